package etcdarbiter_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/etcdarbiter"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A server of the pair on internal network 0xC0FFEE01 asks etcd for the
// primary role in epoch 7. An Arbiter is a mirror.Arbiter: a mirror server
// calls Claim itself; here it is called directly.
func Example() {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"127.0.0.1:2379"},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()

	arb, err := etcdarbiter.New(etcdarbiter.Config{Client: cli, Network: 0xC0FFEE01})
	if err != nil {
		log.Fatal(err)
	}
	defer arb.Close()

	me := mirror.ServerID(ipx.Addr{Net: 0x10, Node: ipx.Node{0x02, 0, 0, 0, 0, 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var denied *mirror.DeniedError
	switch err := arb.Claim(ctx, me, 7); {
	case err == nil:
		log.Print("primary in epoch 7")
	case errors.As(err, &denied):
		log.Printf("stay secondary: epoch %d belongs to %s", denied.Epoch, denied.Holder)
	default:
		log.Printf("arbiter unreachable, ask again: %v", err)
	}
}
