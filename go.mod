module github.com/ipxkit/ipxkit

go 1.26.0

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/google/gopacket v1.1.19
	github.com/mdlayher/packet v1.2.0
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/mdlayher/socket v0.7.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
)
