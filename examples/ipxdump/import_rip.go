package main

// Linking package rip registers its gopacket layer, so ipxdump decodes
// and summarises RIP packets after the IPX header.
import _ "github.com/ipxkit/ipxkit/rip"
