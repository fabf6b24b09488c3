// Package weedproc starts real SeaweedFS processes (the pinned upstream
// `weed` binary built by the Makefile, or weedvol) on loopback for tests,
// benchmarks and `make run`. It never mocks anything: every call talks to
// a real process over real sockets.
package weedproc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binary returns the path in environment variable env, or the file under the
// repository's bin/ directory, or an error saying how to build it.
func Binary(env, name string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("%s not found: run `make bin/%s` or set %s", name, name, env)
}

// TB is the part of testing.TB that TestBinary needs.
type TB interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
}

// TestBinary is Binary for a test: a missing binary skips the test on a
// developer's machine and fails it in CI (environment variable CI set),
// where the Makefile has built it and a skip would hide a test.
func TestBinary(t TB, env, name string) string {
	t.Helper()
	p, err := Binary(env, name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: ", err)
		}
		t.Skip(err)
	}
	return p
}

var portMu sync.Mutex
var nextPort = 15000 + os.Getpid()%3000

// FreePort returns a loopback port p below 22000 such that p and p+10000
// (upstream's derived gRPC port) are both free right now.
func FreePort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for tries := 0; tries < 3000; tries++ {
		p := nextPort
		nextPort++
		if nextPort >= 21500 {
			nextPort = 15000
		}
		if free(p) && free(p+10000) {
			return p, nil
		}
	}
	return 0, errors.New("no free port pair below 22000")
}

func free(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Process is a running server.
type Process struct {
	Name string
	Port int
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

// Start runs bin with args, logging to logPath.
func Start(name, bin, logPath string, port int, args ...string) (*Process, error) {
	return StartIn(name, bin, logPath, "", port, args...)
}

// StartIn is Start with the working directory workDir ("" is this
// process's), where weed looks for master.toml and security.toml first.
func StartIn(name, bin, logPath, workDir string, port int, args ...string) (*Process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = workDir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Port: port, cmd: cmd, log: log, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Addr is "127.0.0.1:<port>".
func (p *Process) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// WaitHTTP polls path on the process's port until it answers 200 or the
// process exits or timeout passes.
func (p *Process) WaitHTTP(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := "http://" + p.Addr() + path
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited before it was ready: %v (log %s)", p.Name, err, p.log.Name())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s after %v (log %s)", p.Name, url, timeout, p.log.Name())
}

// Stop sends SIGTERM and waits up to 20s, then kills the process group.
func (p *Process) Stop() error {
	if p == nil {
		return nil
	}
	defer p.log.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return nil
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop on SIGTERM", p.Name)
	}
}

// Kill sends SIGKILL to the process's whole process group (a crash, as
// far as the process can tell) and waits for the process to exit. The log
// file stays open for a Restart.
func (p *Process) Kill() error {
	if p == nil {
		return nil
	}
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("%s had already exited: %v", p.Name, err)
	default:
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	err := <-p.done
	p.done <- err
	return nil
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// LogPath is the file the process logs to.
func (p *Process) LogPath() string { return p.log.Name() }

// Restart starts the command line of p, which must have exited (Kill), again
// with the same binary, arguments and port, appending to the same log, and
// waits up to timeout for readyPath to answer 200 (no wait when readyPath
// is empty).
func (p *Process) Restart(readyPath string, timeout time.Duration) (*Process, error) {
	if !p.Exited() {
		return nil, fmt.Errorf("restart %s: still running", p.Name)
	}
	logPath := p.log.Name()
	p.log.Close()
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "\n==== weedproc: restart of %s at %s ====\n", p.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.cmd.Path, p.cmd.Args[1:]...)
	cmd.Dir = p.cmd.Dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("restart %s: %w", p.Name, err)
	}
	q := &Process{Name: p.Name, Port: p.Port, cmd: cmd, log: log, done: make(chan error, 1)}
	go func() { q.done <- cmd.Wait() }()
	if readyPath != "" {
		if err := q.WaitHTTP(readyPath, timeout); err != nil {
			return q, err
		}
	}
	return q, nil
}

// StartMaster runs `weed master` on a free port with its metadata in dir.
func StartMaster(weed, dir string, extra ...string) (*Process, error) {
	return StartMasterIn(weed, dir, "", extra...)
}

// StartMasterIn is StartMaster run in workDir, so a master.toml there
// (storage backends, for one) is read.
func StartMasterIn(weed, dir, workDir string, extra ...string) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"master", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port=" + strconv.Itoa(port),
		"-mdir=" + dir, "-peers=none", "-defaultReplication=000", "-telemetry=false"}, extra...)
	p, err := StartIn("master", weed, filepath.Join(dir, "master.log"), workDir, port, args...)
	if err != nil {
		return nil, err
	}
	if err := p.WaitHTTP("/cluster/status", 60*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// StartVolume runs `<bin> volume` serving dataDir, registered with master.
// bin is upstream weed or weedvol (which accepts the same command line).
func StartVolume(bin, dataDir, logDir, master string, extra ...string) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port=" + strconv.Itoa(port),
		"-dir=" + dataDir, "-max=16", "-mserver=" + master, "-preStopSeconds=0"}, extra...)
	p, err := Start("volume", bin, filepath.Join(logDir, "volume.log"), port, args...)
	if err != nil {
		return nil, err
	}
	if err := p.WaitHTTP("/status", 60*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	if err := waitRegistered(master, p, 60*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// waitRegistered polls the master's /dir/status until its topology lists
// the volume server v with its slots, i.e. v's heartbeat has been taken
// and the master can grow volumes on it. Listed is not enough: an
// assignment that reaches the master between its adding the node and its
// taking the slot counts fails its growth ("0 node candidates"), and
// upstream's master was seen refusing that layout's assignments for
// minutes afterwards. (weedvol answers HTTP before its first heartbeat;
// upstream's volume server listens only after, so it never shows this.)
func waitRegistered(master string, v *Process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if NodeMax(master, v.Addr()) > 0 {
			return nil
		}
		select {
		case err := <-v.done:
			v.done <- err
			return fmt.Errorf("%s exited before registering with the master: %v (log %s)", v.Name, err, v.log.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not register with master %s within %v (log %s)", v.Name, master, timeout, v.log.Name())
}

// Assignment is the master's answer to /dir/assign.
type Assignment struct {
	Fid   string `json:"fid"`
	URL   string `json:"url"`
	Error string `json:"error"`
}

// Assign asks the master for a file id, retrying while volumes grow.
func Assign(master string, query string) (Assignment, error) {
	var a Assignment
	var last error
	lastGrow := time.Now()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
		if time.Since(lastGrow) > 10*time.Second {
			// growth on assign can stall under load (upstream's master then
			// answers "volume growth in progress" until it gives up on the
			// attempt): ask for it directly, again every 10 s
			if resp, err := http.Get("http://" + master + "/vol/grow?count=1&" + query); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			lastGrow = time.Now()
		}
		resp, err := http.Get("http://" + master + "/dir/assign?" + query)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			if err == nil && a.Error == "" && a.Fid != "" {
				return a, nil
			}
			if err == nil {
				err = errors.New(a.Error)
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return a, fmt.Errorf("assign: %w", last)
}

// AssignToVolume is Assign, reporting also whether the fid is on volume
// *vid; an empty *vid takes the fid's volume. For tests that fill one
// volume.
func AssignToVolume(master, query string, vid *string) (Assignment, bool, error) {
	a, err := Assign(master, query)
	if err != nil {
		return a, false, err
	}
	v, _, _ := strings.Cut(a.Fid, ",")
	if *vid == "" {
		*vid = v
	}
	return a, v == *vid, nil
}

// Upload posts data as a multipart file named name with the given MIME type.
func Upload(url, fid, name, mime string, data []byte) error {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + name + `"`}
	h["Content-Type"] = []string{mime}
	part, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	part.Write(data)
	w.Close()
	resp, err := http.Post("http://"+url+"/"+fid, w.FormDataContentType(), &body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("upload %s: %s: %s", fid, resp.Status, msg)
	}
	return nil
}

// Delete sends DELETE for fid.
func Delete(url, fid string) error {
	req, _ := http.NewRequest(http.MethodDelete, "http://"+url+"/"+fid, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("delete %s: %s", fid, resp.Status)
	}
	return nil
}

// Get fetches fid and returns status, body and headers.
func Get(url, fid string) (int, []byte, http.Header, error) {
	resp, err := http.Get("http://" + url + "/" + fid)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// NodeMax is the volume slot count master's /dir/status records for the
// volume server at addr: -1 when the node is not listed (or the master
// does not answer).
func NodeMax(master, addr string) int {
	resp, err := http.Get("http://" + master + "/dir/status")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Topology struct {
			DataCenters []struct {
				Racks []struct {
					DataNodes []struct {
						Url string
						Max int
					}
				}
			}
		}
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	for _, dc := range st.Topology.DataCenters {
		for _, r := range dc.Racks {
			for _, n := range r.DataNodes {
				if n.Url == addr {
					return n.Max
				}
			}
		}
	}
	return -1
}
