//go:build !unix

package main

// notifyStatus does nothing where there is no SIGUSR1: the "status"
// line on stdin still works.
func notifyStatus(chan<- struct{}) (stop func()) { return func() {} }
