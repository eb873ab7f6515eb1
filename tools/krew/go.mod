// Pinned build of krew (the kubectl plugin manager) and its manifest validator, used to
// check and install the kubectl-asched plugin from its krew manifest in tests.
module aischeduler.io/tools/krew

go 1.26.0

require sigs.k8s.io/krew v0.4.3 // indirect
