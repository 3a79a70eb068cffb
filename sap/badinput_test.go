package sap_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/sap"
)

// entryBytes builds a raw 64-byte entry, bypassing the encoder's checks.
func entryBytes(name []byte, hops uint16) []byte {
	b := make([]byte, sap.EntryLen)
	binary.BigEndian.PutUint16(b, uint16(sap.TypeFileServer))
	copy(b[2:50], name)
	binary.BigEndian.PutUint16(b[62:], hops)
	return b
}

func TestBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 21})
		victim := newHost(t, 1, false, attach{seg, 0x10})
		attacker := newHost(t, 2, false, attach{seg, 0x10})
		client := newHost(t, 3, false, attach{seg, 0x10})
		adv := victim.advertiser(sap.Config{Table: sap.TableConfig{MaxServices: 50}})
		adv.Add(fileServer("REAL", 1))

		conn, err := attacker.stack.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		dst := ipx.Addr{Net: 0x10, Node: node(1), Socket: ipx.SocketSAP}
		send := func(b []byte) {
			t.Helper()
			if _, err := conn.WriteMsg(b, dst, ipx.WriteOptions{Type: ipx.TypeNCP}); err != nil {
				t.Fatal(err)
			}
		}
		resp := []byte{0, 2}
		malformed := [][]byte{
			{},
			{0},
			{0, 1, 0},
			append(bytes.Clone(resp), entryBytes([]byte("TRUNC"), 1)[:40]...),
			append(bytes.Clone(resp), entryBytes(bytes.Repeat([]byte("N"), 48), 1)...),
			append(bytes.Clone(resp), entryBytes([]byte("CTL\x01"), 1)...),
			append(bytes.Clone(resp), entryBytes([]byte("HOPS"), 17)...),
			append(bytes.Clone(resp), bytes.Repeat(entryBytes([]byte("MANY"), 1), 8)...),
		}
		for _, b := range malformed {
			send(b)
		}
		// A flood of valid services: 20 packets of 7.
		for p := range 20 {
			b := bytes.Clone(resp)
			for i := range 7 {
				b = append(b, entryBytes(fmt.Appendf(nil, "FLOOD-%d-%d", p, i), 2)...)
			}
			send(b)
		}
		synctest.Wait()

		st := adv.Stats()
		if st.Malformed != uint64(len(malformed)) {
			t.Errorf("Malformed %d, want %d", st.Malformed, len(malformed))
		}
		if st.Table.Services != 50 || st.Table.Refused != 140-50 || st.BadEntries != 140-50 {
			t.Errorf("after the flood: %+v", st)
		}
		// Still answering, with its own service.
		got, err := sap.Query(context.Background(), client.stack, sap.TypeFileServer)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range got {
			found = found || r.Name.String() == "REAL" && r.From.Node == node(1)
		}
		if !found {
			t.Fatalf("REAL not among %d answers", len(got))
		}
	})
}
