package main

// Linking sap registers its gopacket layer, so SAP packets print their
// Summary.
import _ "github.com/ipxkit/ipxkit/sap"
