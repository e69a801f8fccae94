package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/lotse-bot/lotse/bot/redisstore"
)

// healthTimeout bounds one health probe; container runtimes kill a
// check that hangs, and a hanging check says "unhealthy" anyway.
const healthTimeout = 4 * time.Second

// cmdHealth is the container health check; the image has no curl.
//
//	lotse health             GET /readyz on LOTSE_LISTEN (loopback)
//	lotse health -http URL   GET URL, e.g. http://127.0.0.1:8080/healthz
//	lotse health -redis      PING the configured REDIS_URL
//
// It exits 0 when the answer is 200 (or PONG).
func cmdHealth(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("http", "", "URL to GET (default: /readyz on LOTSE_LISTEN)")
	redisOnly := fs.Bool("redis", false, "only PING the configured Redis")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: lotse health [-http URL | -redis]")
		return exitUsage
	}
	cfg, err := loadConfig(getenv, false)
	if err != nil {
		fmt.Fprintf(stderr, "lotse: bad configuration: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if *redisOnly {
		return healthRedis(ctx, cfg, stderr)
	}
	u := *target
	if u == "" {
		u = readyURL(cfg.Listen)
	}
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		fmt.Fprintf(stderr, "lotse health: -http must be an http(s) URL\n")
		return exitUsage
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintf(stderr, "lotse health: %v\n", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "lotse health: %v\n", err)
		return exitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		// /readyz names the failing checks, never secrets.
		fmt.Fprintf(stderr, "lotse health: %s: %d %s\n", u, resp.StatusCode, body)
		return exitFailed
	}
	return exitOK
}

// readyURL is /readyz on the ops server's address, reached over
// loopback when it listens on all interfaces.
func readyURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = "", "8080"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}

func healthRedis(ctx context.Context, cfg Config, stderr io.Writer) int {
	if cfg.RedisURL == "" {
		return exitOK
	}
	rdb, err := redisstore.ParseURL(cfg.RedisURL)
	if err != nil {
		fmt.Fprintf(stderr, "lotse: REDIS_URL: %v\n", err)
		return exitUsage
	}
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		fmt.Fprintf(stderr, "lotse: redis unreachable: %v\n", err)
		return exitFailed
	}
	return exitOK
}
