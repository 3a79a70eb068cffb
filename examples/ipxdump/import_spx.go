package main

// Linking package spx registers its gopacket layer, so SPX packets decode
// past the IPX header and print their Summary.
import _ "github.com/ipxkit/ipxkit/spx"
