package bottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lotse-bot/lotse/internal/redisserver"
)

// RedisClusterAddrsEnv names the environment variable that points the
// cluster tests at an existing Redis Cluster ("host:port,host:port,...")
// instead of a throwaway one. Tests only touch keys under their own
// Namespace there.
const RedisClusterAddrsEnv = "LOTSE_TEST_REDIS_CLUSTER_ADDRS"

// clusterMasters is the size of the throwaway cluster: the smallest
// cluster Redis accepts without replicas, and enough that keys of
// different hash slots really live in different processes.
const clusterMasters = 3

// clusterSlots is the number of hash slots of every Redis Cluster.
const clusterSlots = 16384

// Cluster returns a client of a Redis Cluster, closed when tb ends. With
// LOTSE_TEST_REDIS_CLUSTER_ADDRS set it connects there; otherwise it
// starts a 3-master cluster of redis-server processes on free 127.0.0.1
// ports for tb alone (about a second) and stops it when tb ends. A
// missing redis-server skips the test loudly, or fails it when CI=true,
// like Redis. Use Namespace to keep each test's keys apart.
//
// Because every key is routed by its hash slot, a multi-key command,
// transaction or script over keys without a common hash tag fails with
// CROSSSLOT here, where a single server would accept it.
func Cluster(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	var addrs []string
	if s := os.Getenv(RedisClusterAddrsEnv); s != "" {
		addrs = strings.Split(s, ",")
	} else {
		path, err := exec.LookPath("redis-server")
		if err != nil {
			noServer(tb, os.Getenv("CI") == "true", os.Stderr)
			return nil
		}
		nodes, err := startCluster(tb, path)
		if err != nil {
			tb.Fatalf("bottest: starting a Redis Cluster: %v", err)
		}
		for _, n := range nodes {
			addrs = append(addrs, n.Addr())
		}
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	tb.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitClientReady(ctx, rdb); err != nil {
		tb.Fatalf("bottest: Redis Cluster client: %v", err)
	}
	return rdb
}

// startCluster starts the nodes, registered for stopping with tb, and
// joins them into one cluster with the slots split evenly.
func startCluster(tb testing.TB, path string) ([]*redisserver.Server, error) {
	var nodes []*redisserver.Server
	tb.Cleanup(func() {
		for _, n := range nodes {
			n.Stop()
		}
	})
	for range clusterMasters {
		n, err := startClusterNode(path)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := joinCluster(ctx, nodes); err != nil {
		var logs []string
		for _, n := range nodes {
			if b := bytes.TrimSpace(n.Log()); len(b) > 0 {
				logs = append(logs, n.Addr()+": "+string(b))
			}
		}
		return nil, fmt.Errorf("%w\n%s", err, strings.Join(logs, "\n"))
	}
	return nodes, nil
}

// startClusterNode starts one cluster-enabled redis-server. The cluster
// bus listens on the port + 10000, so both must be free; picking ports
// races with other processes, hence the retries.
func startClusterNode(path string) (*redisserver.Server, error) {
	var errs []error
	for range 5 {
		port, err := freeClusterPort()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := startNodeOn(path, port)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// freeClusterPort finds a loopback port p such that p and p+10000 are
// free right now.
func freeClusterPort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

func startNodeOn(path string, port int) (*redisserver.Server, error) {
	dir, err := os.MkdirTemp("", "lotse-redis-cluster-")
	if err != nil {
		return nil, err
	}
	return redisserver.Launch(path, port, dir, "redis-server (cluster node)",
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-node-timeout", "5000")
}

// joinCluster does by hand what redis-cli --cluster create does, so only
// redis-server is needed: distinct config epochs, a contiguous share of
// the slots for every node, MEET between all nodes, then waiting until
// every node sees all others and reports cluster_state:ok.
func joinCluster(ctx context.Context, nodes []*redisserver.Server) error {
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		defer clients[i].Close()
	}
	per := clusterSlots / len(nodes)
	for i, c := range clients {
		if err := c.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER SET-CONFIG-EPOCH: %w", nodes[i].Addr(), err)
		}
		first, last := i*per, (i+1)*per-1
		if i == len(nodes)-1 {
			last = clusterSlots - 1
		}
		args := []any{"CLUSTER", "ADDSLOTS"}
		for slot := first; slot <= last; slot++ {
			args = append(args, slot)
		}
		if err := c.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER ADDSLOTS %d-%d: %w", nodes[i].Addr(), first, last, err)
		}
	}
	// Every node meets every other: gossip would spread the news from
	// one MEET too, but slower.
	for i, c := range clients {
		for j, n := range nodes {
			if i == j {
				continue
			}
			host, port, _ := net.SplitHostPort(n.Addr())
			if err := c.Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
				return fmt.Errorf("%s: CLUSTER MEET %s: %w", nodes[i].Addr(), n.Addr(), err)
			}
		}
	}
	want := "cluster_known_nodes:" + strconv.Itoa(len(nodes))
	for {
		ready := true
		var last string
		for i, c := range clients {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return fmt.Errorf("%s: CLUSTER INFO: %w", nodes[i].Addr(), err)
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
				ready, last = false, nodes[i].Addr()+": "+strings.Join(strings.Fields(info)[:min(6, len(strings.Fields(info)))], " ")
				break
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready in time; last seen %s", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitClientReady waits until the client routes to every master: a
// cluster that just formed may still be gossiping its slot map.
func waitClientReady(ctx context.Context, rdb *redis.ClusterClient) error {
	for {
		rdb.ReloadState(ctx)
		var n atomic.Int32 // ForEachMaster calls concurrently
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			n.Add(1)
			return c.Ping(ctx).Err()
		})
		masters := int(n.Load())
		if err == nil && masters >= clusterMasters {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster client sees %d masters (want %d): %v", masters, clusterMasters, errors.Join(err, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
