// Package staffconfig reads the staff configuration: which Telegram users
// and chats receive the requests routed to each person entry of the
// knowledge base, who coordinates and who curates. It is YAML, checked at
// start-up with file:line in every message, so that no request can be
// routed to a person without a chat.
//
//	coordinators: [9001]        # act on every request; /report, /broadcast, /invite, /unanswered
//	curators: [9501]            # editors of the knowledge base: /unanswered only
//	staff:
//	  - {person: qm-nord, users: [1101], names: {1101: Anna}, chat: -1001101}
//	  - {person: wohnraum, users: [9201], chat: -1009201, forum: true}
//
// A desk may also set lang (the language of its messages, default de)
// and forum: true for a team group that is a supergroup with topics
// enabled, where each request gets its own topic (the bot must be an
// admin allowed to manage topics; otherwise requests are posted in the
// group as without it). topics_forum is an older spelling of forum.
package staffconfig

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/lotse-bot/lotse/bot"
	"github.com/lotse-bot/lotse/knowledge"
)

// demo is the demo staff of the sample knowledge base, with fake ids.
//
//go:embed demo.yaml
var demo []byte

// Demo returns the demo staff for the sample city, checked against kb.
func Demo(kb *knowledge.KB) (*bot.StaffDirectory, error) {
	return Parse("demo.yaml", demo, kb)
}

// Console returns a directory in which one user in one chat serves every
// routing target of kb: for trying the whole flow alone in a terminal.
func Console(kb *knowledge.KB, user, chat int64) (*bot.StaffDirectory, error) {
	var desks []bot.Desk
	for _, e := range kb.RoutingTargets() {
		desks = append(desks, bot.Desk{Person: e.ID, Users: []int64{user}, Chat: chat, Names: map[int64]string{user: "Demo"}})
	}
	return bot.NewStaffDirectory(desks, nil)
}

// Load reads the staff file at path and checks it against kb.
func Load(path string, kb *knowledge.KB) (*bot.StaffDirectory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("staff file: %w", err)
	}
	return Parse(filepath.Base(path), data, kb)
}

// maxUsers bounds the users of one desk.
const maxUsers = 100

// Parse decodes a staff file named name and checks it against kb: every
// person must be a person entry, every routing target must have a desk,
// every desk a chat and users. All problems are reported, each with
// name:line.
func Parse(name string, data []byte, kb *knowledge.KB) (*bot.StaffDirectory, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	bad := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, n.Line, fmt.Sprintf(format, args...)))
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a mapping with staff:, coordinators: and curators:", name)
	}
	var desks []bot.Desk
	var coordinators, curators []int64
	seen := map[string]int{}
	doc := root.Content[0]
	ints := func(n *yaml.Node, what string) []int64 {
		if n.Kind != yaml.SequenceNode {
			bad(n, "%s: want a list of Telegram user ids", what)
			return nil
		}
		if len(n.Content) > maxUsers {
			bad(n, "%s: more than %d users", what, maxUsers)
			return nil
		}
		var out []int64
		for _, c := range n.Content {
			v, err := strconv.ParseInt(c.Value, 10, 64)
			if c.Kind != yaml.ScalarNode || err != nil || v <= 0 {
				bad(c, "%s: %q is not a Telegram user id", what, c.Value)
				continue
			}
			out = append(out, v)
		}
		return out
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch k.Value {
		case "coordinators":
			coordinators = ints(v, "coordinators")
		case "curators":
			curators = ints(v, "curators")
		case "staff":
			if v.Kind != yaml.SequenceNode {
				bad(v, "staff: want a list of desks")
				continue
			}
			for _, dn := range v.Content {
				if d, ok := desk(dn, bad, ints); ok {
					if line, dup := seen[d.Person]; dup {
						bad(dn, "person %q has a desk already (line %d)", d.Person, line)
						continue
					}
					seen[d.Person] = dn.Line
					if e, found := kb.Entry(d.Person); !found || e.Kind != knowledge.KindPerson {
						bad(dn, "person %q is not a person entry of the knowledge base", d.Person)
						continue
					}
					desks = append(desks, d)
				}
			}
		default:
			bad(k, "unknown key %q (want staff, coordinators or curators)", k.Value)
		}
	}
	for _, e := range kb.RoutingTargets() {
		if _, ok := seen[e.ID]; !ok {
			errs = append(errs, fmt.Errorf("%s: routing target %q (%s:%d) has no desk; requests routed there would be lost", name, e.ID, e.Pos.File, e.Pos.Line))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	dir, err := bot.NewStaffDirectory(desks, coordinators)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if dir, err = dir.WithCurators(curators); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := dir.Check(kb); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return dir, nil
}

func desk(n *yaml.Node, bad func(*yaml.Node, string, ...any), ints func(*yaml.Node, string) []int64) (bot.Desk, bool) {
	var d bot.Desk
	if n.Kind != yaml.MappingNode {
		bad(n, "a desk is a mapping: {person: ..., users: [...], chat: ...}")
		return d, false
	}
	ok := true
	has := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		has[k.Value] = true
		switch k.Value {
		case "person":
			d.Person = v.Value
		case "users":
			d.Users = ints(v, "users")
		case "chat":
			c, err := strconv.ParseInt(v.Value, 10, 64)
			if v.Kind != yaml.ScalarNode || err != nil || c == 0 {
				bad(v, "chat: %q is not a chat id (a user id, or a group id like -100123)", v.Value)
				ok = false
			}
			d.Chat = c
		case "forum", "topics_forum":
			if v.Value != "true" && v.Value != "false" {
				bad(v, "%s: want true or false", k.Value)
				ok = false
			}
			d.Forum = v.Value == "true"
		case "lang":
			d.Lang = v.Value
		case "names":
			if v.Kind != yaml.MappingNode {
				bad(v, "names: want {user id: first name}")
				ok = false
				continue
			}
			d.Names = map[int64]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				id, err := strconv.ParseInt(v.Content[j].Value, 10, 64)
				if err != nil || id <= 0 {
					bad(v.Content[j], "names: %q is not a Telegram user id", v.Content[j].Value)
					ok = false
					continue
				}
				d.Names[id] = v.Content[j+1].Value
			}
		default:
			bad(k, "unknown key %q in a desk (want person, users, names, chat, forum, lang)", k.Value)
			ok = false
		}
	}
	if d.Forum && d.Chat > 0 {
		bad(n, "forum: a private chat has no topics (a forum is a group, like -100123)")
		ok = false
	}
	for _, req := range []string{"person", "users", "chat"} {
		if !has[req] {
			bad(n, "desk without %s", req)
			ok = false
		}
	}
	return d, ok
}
