package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// composeFile is docker-compose.yml, as far as the tests look at it.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	EnvFile     any               `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	Profiles    []string          `yaml:"profiles"`
	ReadOnly    bool              `yaml:"read_only"`
	Tmpfs       []string          `yaml:"tmpfs"`
	User        string            `yaml:"user"`
	Restart     string            `yaml:"restart"`
	StopGrace   string            `yaml:"stop_grace_period"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
	} `yaml:"healthcheck"`
}

func mustReadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// TestComposeFile checks docker-compose.yml's invariants. `docker compose
// config` needs the compose plugin, which CI machines may lack; this test
// always runs and, where the plugin exists, runs it too.
func TestComposeFile(t *testing.T) {
	c := mustReadCompose(t)
	known := map[string]bool{}
	for _, v := range configVars {
		known[v.Name] = true
	}

	redis, ok := c.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	cmd := strings.Join(redis.Command, " ")
	for _, want := range []string{"--appendonly yes", "--appendfsync everysec"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command %q lacks %q (AOF persistence)", cmd, want)
		}
	}
	if !slices.ContainsFunc(redis.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("redis keeps /data in no volume: %v", redis.Volumes)
	}
	if len(redis.Healthcheck.Test) == 0 || redis.Restart == "" || len(redis.Profiles) != 0 {
		t.Errorf("redis: healthcheck %v, restart %q, profiles %v (want a check, a policy, every profile)", redis.Healthcheck.Test, redis.Restart, redis.Profiles)
	}

	lotse := map[string]string{"lotse": "single", "lotse-a": "replicas", "lotse-b": "replicas"}
	for name, profile := range lotse {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if !slices.Equal(s.Profiles, []string{profile}) {
			t.Errorf("%s: profiles %v, want [%s]", name, s.Profiles, profile)
		}
		if !s.ReadOnly || !slices.ContainsFunc(s.Tmpfs, func(v string) bool { return strings.HasPrefix(v, "/tmp") }) {
			t.Errorf("%s: read_only %v, tmpfs %v; want a read-only root with a tmpfs on /tmp", name, s.ReadOnly, s.Tmpfs)
		}
		if s.User == "" || strings.HasPrefix(s.User, "0") || strings.HasPrefix(s.User, "root") {
			t.Errorf("%s: user %q, want a non-root uid", name, s.User)
		}
		if got := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(got, "lotse health") {
			t.Errorf("%s: healthcheck %q, want `lotse health`", name, got)
		}
		if s.Restart == "" || s.StopGrace == "" || s.DependsOn["redis"].Condition != "service_healthy" {
			t.Errorf("%s: restart %q, stop_grace_period %q, depends on redis %q", name, s.Restart, s.StopGrace, s.DependsOn["redis"].Condition)
		}
		if grace, err := time.ParseDuration(s.StopGrace); err != nil || grace <= shutdownTimeout {
			t.Errorf("%s: stop_grace_period %q must exceed the shutdown timeout %v, or Docker kills Lotse mid-shutdown", name, s.StopGrace, shutdownTimeout)
		}
		for k := range s.Environment {
			if !known[k] {
				t.Errorf("%s: environment variable %s is not one Lotse reads (configVars)", name, k)
			}
		}
		if !strings.HasPrefix(s.Environment["REDIS_URL"], "redis://redis:") {
			t.Errorf("%s: REDIS_URL %q, want the compose redis", name, s.Environment["REDIS_URL"])
		}
		webhook := s.Environment["LOTSE_WEBHOOK_URL"]
		if (profile == "replicas") != strings.HasPrefix(webhook, "https://") {
			t.Errorf("%s (%s): LOTSE_WEBHOOK_URL %q: replicas need a webhook, the single instance polls", name, profile, webhook)
		}
	}

	proxy, ok := c.Services["proxy"]
	if !ok {
		t.Fatal("no proxy service")
	}
	if !slices.Equal(proxy.Profiles, []string{"replicas"}) || proxy.DependsOn["lotse-a"].Condition == "" || proxy.DependsOn["lotse-b"].Condition == "" {
		t.Errorf("proxy: profiles %v, depends_on %v", proxy.Profiles, proxy.DependsOn)
	}
	caddy, err := os.ReadFile("../../deploy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lotse-a:8080", "lotse-b:8080", "handle /telegram", "lb_try_duration", "health_uri /readyz"} {
		if !strings.Contains(string(caddy), want) {
			t.Errorf("deploy/Caddyfile lacks %q", want)
		}
	}
	if !slices.ContainsFunc(proxy.Volumes, func(v string) bool { return strings.HasPrefix(v, "./deploy/Caddyfile:") }) {
		t.Errorf("proxy does not mount deploy/Caddyfile: %v", proxy.Volumes)
	}
	for _, name := range []string{"lotse-a", "lotse-b"} {
		if p := webhookPathOf(c.Services[name].Environment["LOTSE_WEBHOOK_URL"]); p != "/telegram" {
			t.Errorf("%s serves the webhook on %q; Caddy forwards /telegram", name, p)
		}
	}

	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err == nil {
		cmd := exec.Command("docker", "compose", "-f", "../../docker-compose.yml", "--profile", "single", "--profile", "replicas", "config", "-q")
		cmd.Env = append(os.Environ(), "LOTSE_DOMAIN=bot.example.org")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker compose config: %v\n%s", err, out)
		}
	} else {
		t.Logf("docker compose plugin not available (%s); checked by parsing only", strings.TrimSpace(string(out)))
	}
}

func webhookPathOf(u string) string {
	p, err := webhookPath(strings.ReplaceAll(u, "${LOTSE_DOMAIN}", "bot.example.org"))
	if err != nil {
		return "error: " + err.Error()
	}
	return p
}

// TestEnvExampleAndDockerfile: .env.example names only variables that
// exist, and the image is built as the compose file expects.
func TestEnvExampleAndDockerfile(t *testing.T) {
	known := map[string]bool{"COMPOSE_PROFILES": true, "LOTSE_DOMAIN": true} // read by compose
	for _, v := range configVars {
		known[v.Name] = true
	}
	b, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]+)=`).FindAllStringSubmatch(string(b), -1) {
		if !known[m[1]] {
			t.Errorf(".env.example sets %s, which nothing reads", m[1])
		}
	}
	d, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(d)
	if n := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(df, -1); len(n) < 2 {
		t.Error("Dockerfile is not multi-stage")
	}
	for _, want := range []string{"CGO_ENABLED=0", "USER 65532", `"health"`, "./cmd/lotse"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	c := mustReadCompose(t)
	if u := c.Services["lotse"].User; !strings.Contains(df, "USER "+u) {
		t.Errorf("compose runs Lotse as %q; the Dockerfile's USER differs", u)
	}
}

func TestHealthCommand(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.Write([]byte(`{"status":"ready"}`))
			return
		}
		http.Error(w, `{"status":"not ready","failing":["redis"]}`, http.StatusServiceUnavailable)
	}))
	defer ready.Close()
	port := ready.Listener.Addr().String()[strings.LastIndex(ready.Listener.Addr().String(), ":"):]
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"readyz on LOTSE_LISTEN", nil, map[string]string{"LOTSE_LISTEN": port}, exitOK},
		{"readyz on 0.0.0.0", nil, map[string]string{"LOTSE_LISTEN": "0.0.0.0" + port}, exitOK},
		{"explicit URL", []string{"-http", ready.URL + "/readyz"}, nil, exitOK},
		{"not ready", []string{"-http", ready.URL + "/other"}, nil, exitFailed},
		{"nothing listening", []string{"-http", "http://127.0.0.1:1/readyz"}, nil, exitFailed},
		{"not a URL", []string{"-http", "readyz"}, nil, exitUsage},
		{"redis not configured", []string{"-redis"}, nil, exitOK},
		{"redis unreachable", []string{"-redis"}, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "LOTSE_SECRET": strings.Repeat("s", 32)}, exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if got := Main(ctx, append([]string{"health"}, tc.args...), env(tc.env), nil, &stderr, &stderr); got != tc.want {
				t.Errorf("exit %d, want %d: %s", got, tc.want, stderr.String())
			}
		})
	}
}
