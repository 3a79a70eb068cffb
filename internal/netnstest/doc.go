// Package netnstest builds small Linux networks out of network namespaces,
// veth pairs and bridges for tests of the raw-Ethernet code, so that no
// frame a test sends leaves the namespaces it created. It is test support
// only: import it from _test.go files, never from library code.
//
// Every namespace is named with a prefix unique to the process (its PID)
// and to the call (a counter), and is deleted in t.Cleanup, which also
// runs when the test fails; deleting a namespace removes the interfaces
// in it and the far end of any veth pair leaving it, so nothing is created
// in the caller's own namespace. The helpers need root and iproute2's ip
// command; Require (called by New and Pair) skips the test otherwise.
//
// Typical use, two hosts joined by a cable:
//
//	nsA, nsB := netnstest.Pair(t, "mypkg", "eth0", macA, macB)
//	var c *packet.Conn
//	netnstest.MustIn(t, nsA, func() (err error) {
//		c, err = packet.Listen(ifi, packet.Raw, etherType, nil)
//		return err
//	})
//	// c is bound in nsA, whichever thread later uses it.
//
// or hosts on a switch:
//
//	tp := netnstest.New(t, "mypkg")
//	br := tp.Bridge("br", false)
//	h0, h1 := tp.Namespace("h0"), tp.Namespace("h1")
//	tp.Plug(br, h0, "eth0", mac0)
//	tp.Plug(br, h1, "eth0", mac1)
//
// The package holds code only on Linux.
package netnstest
