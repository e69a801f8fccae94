// Package redisserver runs throwaway redis-server processes on 127.0.0.1
// without persistence: the Redis of the tests (bot/bottest) and of the
// load and fault runs (internal/loadtest, lotse bench and chaos).
package redisserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// ErrNotFound: redis-server is not on PATH.
var ErrNotFound = errors.New("redis-server not found in PATH (install it, e.g. apt-get install redis-server)")

// Server is a redis-server process. Kill and Restart let fault runs take
// it away under load and bring it back on the same address.
type Server struct {
	path, addr, dir string
	what            string   // names the server in errors
	extra           []string // further arguments

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *buffer
}

// Start starts a redis-server found on PATH on a free loopback port, with
// its data in a new temporary directory named dirPrefix followed by a
// random string. Picking a free port and binding it races with other
// processes, so it retries a few times.
func Start(dirPrefix string) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotFound
	}
	var errs []error
	for range 3 {
		s, err := tryStart(path, dirPrefix)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func tryStart(path, dirPrefix string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	return Launch(path, port, dir, "redis-server")
}

// Launch starts the redis-server at path on 127.0.0.1:port with data in
// dir (removed when it fails or stops) and extra arguments, and waits
// until it answers PING. what names the server in errors.
func Launch(path string, port int, dir, what string, extra ...string) (*Server, error) {
	s := &Server{
		path: path, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir,
		what: what, extra: extra,
	}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.addr + "/0" }

// Log returns what the current process has written so far, for error
// messages.
func (s *Server) Log() []byte {
	s.mu.Lock()
	log := s.log
	s.mu.Unlock()
	if log == nil {
		return nil
	}
	return log.Bytes()
}

// start starts the process and waits until it answers PING; on failure
// the process is gone.
func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1"}, s.extra...)
	args = append(args, "--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no", "--loglevel", "warning")
	cmd := exec.Command(s.path, args...)
	log := &buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.log = cmd, done, log
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(s.addr)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited: %s", s.what, bytes.TrimSpace(log.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("%s on %s not answering PING: %v", s.what, s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts the server again on the same address after Kill (it
// comes back empty: there is no persistence).
func (s *Server) Restart() error {
	var err error
	// The port may linger briefly after a kill.
	for range 50 {
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Stop ends the server (killed after 5 s) and removes its directory.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(os.Interrupt) // redis-server shuts down on SIGINT
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(s.dir)
}

// ping checks that a Redis server answers on addr. It speaks RESP by
// hand so that waiting for start-up does not fill the log with a
// client's dial errors.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING reply %q", buf)
	}
	return nil
}

// buffer collects the server's output for error messages.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}
