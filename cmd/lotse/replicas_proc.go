package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// aofRedis is a redis-server with AOF persistence (appendonly yes,
// appendfsync everysec, as in docker-compose.yml) on a fixed loopback
// port and directory, so a kill -9 and a restart find the same data.
type aofRedis struct {
	path, addr, dir string
	cmd             *exec.Cmd
	done            chan struct{}
}

func startAOFRedis() (*aofRedis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found in PATH (install it, e.g. apt-get install redis-server)")
	}
	dir, err := os.MkdirTemp("", "lotse-replicas-redis-")
	if err != nil {
		return nil, err
	}
	var errs []error
	for range 3 { // a free port may be taken before redis binds it
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		s := &aofRedis{path: path, addr: addr, dir: dir}
		if err := s.start(); err != nil {
			errs = append(errs, err)
			continue
		}
		return s, nil
	}
	os.RemoveAll(dir)
	return nil, errors.Join(errs...)
}

func (s *aofRedis) url() string { return "redis://" + s.addr + "/0" }

func (s *aofRedis) start() error {
	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(s.path, "--port", port, "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--daemonize", "no", "--loglevel", "warning")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p, err := startProc(cmd)
	if err != nil {
		return err
	}
	done := p.done
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited: %s", bytes.TrimSpace(log.Bytes()))
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond); err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 7)
			_, werr := c.Write([]byte("PING\r\n"))
			_, rerr := io.ReadFull(c, buf)
			c.Close()
			if werr == nil && rerr == nil && string(buf) == "+PONG\r\n" {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-done
	return fmt.Errorf("redis-server on %s not answering", s.addr)
}

// kill ends redis-server with SIGKILL, as a crash would.
func (s *aofRedis) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// restart starts it again on the same port and directory: it loads the
// AOF.
func (s *aofRedis) restart() error {
	var err error
	for range 50 {
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func (s *aofRedis) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.kill()
	}
	os.RemoveAll(s.dir)
}

// replicaProc is one `lotse run` subprocess in webhook mode.
type replicaProc struct {
	*proc
	name string
	logs *lockedLog
	addr string // ops server, 127.0.0.1:port
}

var opsListeningRe = regexp.MustCompile(`msg="ops server listening" addr=(127\.0\.0\.1:\d+)`)

func startReplica(bin, name string, env []string) (*replicaProc, error) {
	logs := &lockedLog{}
	cmd := lotseRunCmd(bin, env, logs)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, err := startProc(cmd)
	if err != nil {
		return nil, err
	}
	p := &replicaProc{proc: pr, name: name, logs: logs}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := opsListeningRe.FindStringSubmatch(logs.all()); m != nil {
			p.addr = m[1]
			break
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start:\n%s", name, logs.tail())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if p.addr == "" {
		p.kill()
		return nil, fmt.Errorf("%s: no ops server within 30s:\n%s", name, logs.tail())
	}
	// Ready: Redis, knowledge base and Telegram (setWebhook answered).
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()
	return nil, fmt.Errorf("%s not ready within 30s:\n%s", name, logs.tail())
}

func (p *replicaProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// terminate sends SIGTERM and returns how long the process took to
// exit (it is killed after limit).
func (p *replicaProc) terminate(limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start), true
	case <-time.After(limit):
		p.kill()
		return time.Since(start), false
	}
}

// balancer is a round-robin reverse proxy on loopback in front of the
// replicas, as Caddy is in docker-compose.yml: a replica that cannot be
// reached (connection refused or reset) is skipped and the request
// retried on the next one, with the body buffered for that.
type balancer struct {
	srv      *http.Server
	addr     string
	mu       sync.Mutex
	backends []string
	next     int
	retried  atomic.Int64
}

func startBalancer(backends []string) (*balancer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &balancer{backends: backends, addr: l.Addr().String()}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "backend" },
		Transport: retryTransport{b: b, tr: tr},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	b.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(l)
	return b, nil
}

func (b *balancer) url(path string) string { return "http://" + b.addr + path }

func (b *balancer) set(backends []string) {
	b.mu.Lock()
	b.backends = backends
	b.mu.Unlock()
}

// order returns the backends starting at the next in turn.
func (b *balancer) order() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.backends)
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, b.backends[(b.next+i)%n])
	}
	b.next++
	return out
}

func (b *balancer) close() { b.srv.Close() }

type retryTransport struct {
	b  *balancer
	tr *http.Transport
}

func (t retryTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	var last error = errors.New("no backend")
	for i, host := range t.b.order() {
		if i > 0 {
			t.b.retried.Add(1)
		}
		out := r.Clone(r.Context())
		out.URL = &url.URL{Scheme: "http", Host: host, Path: r.URL.Path}
		out.Host = host
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		resp, err := t.tr.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		if r.Context().Err() != nil {
			return nil, err
		}
		last = err
	}
	return nil, last
}

// metricSum adds up the samples of a Prometheus counter family.
func metricSum(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q", line)
		}
		sum += v
	}
	return sum, nil
}

// all returns everything logged so far.
func (l *lockedLog) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
