// Command pause is the sandbox ("pause") container of the real node's pods: it holds the
// pod's namespaces open, exits on SIGINT/SIGTERM, and reaps the zombies it inherits when
// the pod shares its process namespace. Built here because the node has no registry to
// pull registry.k8s.io/pause from.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
