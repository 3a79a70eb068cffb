package etcdarbiter

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// testEtcd is an embedded single-member etcd server on loopback.
type testEtcd struct {
	e        *embed.Etcd
	endpoint string
	stopOnce sync.Once
}

// freePort returns a loopback port free a moment ago: embed cannot listen
// on port 0 for its peer URL, so the test picks ports itself.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd starts an embedded etcd with its data in a temporary
// directory, and stops it at the end of the test. A port taken between
// freePort and the start is retried with new ones.
func startEtcd(t *testing.T) *testEtcd {
	t.Helper()
	var err error
	for range 3 {
		var s *testEtcd
		if s, err = tryStartEtcd(t); err == nil {
			t.Cleanup(s.stop)
			return s
		}
	}
	t.Fatalf("start etcd: %v", err)
	return nil
}

func tryStartEtcd(t *testing.T) (*testEtcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "arbiter"
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true // tests only: a tmpfs-speed disk
	purl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	curl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{purl}, []url.URL{purl}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{curl}, []url.URL{curl}
	cfg.ListenMetricsUrls = nil
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		return nil, fmt.Errorf("not ready after 20 s")
	case err := <-e.Err():
		e.Close()
		return nil, err
	}
	return &testEtcd{e: e, endpoint: curl.Host}, nil
}

func (s *testEtcd) stop() { s.stopOnce.Do(s.e.Close) }

// client returns a new client of s, closed at the end of the test.
func (s *testEtcd) client(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{s.endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
