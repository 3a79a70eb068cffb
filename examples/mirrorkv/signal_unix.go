//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyStatus asks for the status at each SIGUSR1; the returned func
// stops that.
func notifyStatus(status chan<- struct{}) (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				select {
				case status <- struct{}{}:
				default: // one is pending already
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}
