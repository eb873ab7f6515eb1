module aischeduler.io/realnode

go 1.26
