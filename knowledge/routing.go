package knowledge

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file holds the routing rules: who is responsible for a request a
// user wants a person for. The rules are curated data (the top-level
// routing: key), decoded with a line for every value and proven at load
// time to send every possible request to somebody.

// Errors returned by Route.
var (
	// ErrNoRouting means the knowledge base has no routing: section.
	ErrNoRouting = errors.New("knowledge base has no routing rules")
	// ErrUnknownID means a request named a district, topic or concept
	// the knowledge base does not have (for example a district remembered
	// from before a reload that removed it).
	ErrUnknownID = errors.New("unknown id")
)

// Route reasons: which rule chose the responsible person. Topic and
// concept reasons carry the id after the colon ("topic:housing",
// "concept:school").
const (
	ReasonDistrict   = "district"   // the district's Quartiermanager
	ReasonTopic      = "topic:"     // a topic override, followed by the topic id
	ReasonConcept    = "concept:"   // a concept override, followed by the concept id
	ReasonVolunteer  = "volunteer"  // a volunteer's request
	ReasonEscalation = "escalation" // the user says nobody has helped so far
	ReasonFallback   = "fallback"   // nobody else is responsible
)

// RouteRequest describes a request for a person.
type RouteRequest struct {
	District string // id of a district entry; "" if unknown
	Topic    string // id of a topic (field of action); "" if unknown
	// Concepts are glossary concept ids the conversation is about (from
	// the question asked or the entry viewed), most relevant first. They
	// select finer overrides than topics ("school" within "family").
	Concepts  []string
	Volunteer bool // the user is a volunteer asking on someone's behalf
	Escalate  bool // the user says nobody has helped so far
}

// Route is the outcome of routing a request.
type Route struct {
	Primary *Entry // the responsible person entry; never nil when err == nil
	// Deputy takes over when Primary is absent: the rule's deputy, else
	// the fallback or the nobody_helped contact. It differs from Primary
	// and is nil only if the routing names a single person for everything.
	Deputy *Entry
	Reason string // ReasonDistrict, "topic:<id>", "concept:<id>", ReasonVolunteer, ReasonEscalation or ReasonFallback
	Rule   Pos    // where the deciding rule is written, for staff and curators
}

// Route finds the person responsible for req. Precedence: "nobody helped
// me so far" goes to the escalation contact; volunteers go to their
// district's volunteer contact or the city-wide one; then concept
// overrides, then topic overrides (each for the district before the
// city-wide one); then the district's Quartiermanager; else the fallback.
//
// Returns ErrNoRouting if the base has no routing rules and ErrUnknownID
// (wrapped) if req names an id the base does not have. Load has proven
// that every other request reaches somebody.
func (kb *KB) Route(req RouteRequest) (Route, error) {
	if kb.routing == nil {
		return Route{}, ErrNoRouting
	}
	return kb.routing.route(req)
}

// EscalationTarget is where requests go that were not taken up in time
// (a ticket nobody claimed or answered): the routing's escalation
// contact, by default the fallback. Nil if the base has no routing.
func (kb *KB) EscalationTarget() *Entry {
	if kb.routing == nil {
		return nil
	}
	return kb.routing.escalation.e
}

// ResponseWorkingDays is the promised response time in working days
// ("usually within 2 working days"); 0 if the base has no routing.
func (kb *KB) ResponseWorkingDays() int {
	if kb.routing == nil {
		return 0
	}
	return kb.routing.days
}

// RoutingTargets returns every person entry a request can be routed to,
// deputies included, in file order; the bot checks that each of them has
// a staff chat configured. Nil if the base has no routing.
func (kb *KB) RoutingTargets() []*Entry {
	if kb.routing == nil {
		return nil
	}
	seen := map[*Entry]bool{}
	for _, t := range kb.routing.targets() {
		seen[t] = true
	}
	var out []*Entry
	for _, e := range kb.entries {
		if seen[e] {
			out = append(out, e)
		}
	}
	return out
}

// target is a person a rule points to, with where the rule says so.
type target struct {
	e   *Entry
	pos Pos
}

// rule is one routing rule: a person and, optionally, a deputy.
type rule struct {
	person, deputy target
	pos            Pos // the rule itself
}

// overrideKey selects a topic or concept override; district "" is the
// city-wide rule.
type overrideKey struct{ id, district string }

// routing is the compiled, validated routing table.
type routing struct {
	pos          Pos
	days         int
	hours        []Slot
	fallback     target
	nobodyHelped target
	escalation   target
	volunteers   target // zero if none city-wide
	districts    map[string]districtRule
	topics       map[overrideKey]rule
	concepts     map[overrideKey]rule

	// Known ids, so that Route can tell an unknown id from one without a rule.
	knownDistricts, knownTopics, knownConcepts map[string]bool
}

// districtRule is a district's Quartiermanager, deputy and optional
// volunteer contact.
type districtRule struct {
	rule
	volunteers target
}

func (r *routing) route(req RouteRequest) (Route, error) {
	if req.District != "" && !r.knownDistricts[req.District] {
		return Route{}, fmt.Errorf("route: district %q: %w", req.District, ErrUnknownID)
	}
	if req.Topic != "" && !r.knownTopics[req.Topic] {
		return Route{}, fmt.Errorf("route: topic %q: %w", req.Topic, ErrUnknownID)
	}
	for _, c := range req.Concepts {
		if !r.knownConcepts[c] {
			return Route{}, fmt.Errorf("route: concept %q: %w", c, ErrUnknownID)
		}
	}
	dr, hasDistrict := r.districts[req.District]
	// Deputies, when a rule names none: the fallback, then the escalation
	// contact, whichever differs from the primary.
	standby := []target{r.fallback, r.nobodyHelped}
	switch {
	case req.Escalate:
		return r.result(r.nobodyHelped, ReasonEscalation, r.nobodyHelped.pos, r.fallback), nil
	case req.Volunteer:
		if hasDistrict && dr.volunteers.e != nil {
			return r.result(dr.volunteers, ReasonVolunteer, dr.volunteers.pos, append([]target{r.volunteers}, standby...)...), nil
		}
		if r.volunteers.e != nil {
			return r.result(r.volunteers, ReasonVolunteer, r.volunteers.pos, standby...), nil
		}
		return r.result(r.fallback, ReasonFallback, r.fallback.pos, r.nobodyHelped), nil
	}
	for _, c := range req.Concepts {
		if ru, ok := r.override(r.concepts, c, req.District); ok {
			return r.result(ru.person, ReasonConcept+c, ru.pos, append([]target{ru.deputy}, standby...)...), nil
		}
	}
	if req.Topic != "" {
		if ru, ok := r.override(r.topics, req.Topic, req.District); ok {
			return r.result(ru.person, ReasonTopic+req.Topic, ru.pos, append([]target{ru.deputy}, standby...)...), nil
		}
	}
	if hasDistrict {
		return r.result(dr.person, ReasonDistrict, dr.pos, append([]target{dr.deputy}, standby...)...), nil
	}
	return r.result(r.fallback, ReasonFallback, r.fallback.pos, r.nobodyHelped), nil
}

// override finds the district's rule for id, else the city-wide one.
func (r *routing) override(m map[overrideKey]rule, id, district string) (rule, bool) {
	if district != "" {
		if ru, ok := m[overrideKey{id, district}]; ok {
			return ru, true
		}
	}
	ru, ok := m[overrideKey{id, ""}]
	return ru, ok
}

// result builds a Route with the first deputy candidate that exists and
// differs from the primary.
func (r *routing) result(primary target, reason string, pos Pos, deputies ...target) Route {
	rt := Route{Primary: primary.e, Reason: reason, Rule: pos}
	for _, d := range deputies {
		if d.e != nil && d.e != primary.e {
			rt.Deputy = d.e
			break
		}
	}
	return rt
}

// targets lists every person the routing can name, deputies included.
func (r *routing) targets() []*Entry {
	var out []*Entry
	add := func(ts ...target) {
		for _, t := range ts {
			if t.e != nil {
				out = append(out, t.e)
			}
		}
	}
	add(r.fallback, r.nobodyHelped, r.escalation, r.volunteers)
	for _, d := range r.districts {
		add(d.person, d.deputy, d.volunteers)
	}
	for _, m := range []map[overrideKey]rule{r.topics, r.concepts} {
		for _, ru := range m {
			add(ru.person, ru.deputy)
		}
	}
	return out
}

// Decoding.

// rawRef is an id as written, with its place.
type rawRef struct {
	id    string
	pos   Pos
	field string // for messages: "routing.fallback", "routing.districts.deputy", ...
}

func (x rawRef) set() bool { return x.id != "" }

type rawDistrictRule struct {
	pos                              Pos
	district, qm, deputy, volunteers rawRef
}

type rawOverride struct {
	pos                      Pos
	topic, concept, district rawRef
	person, deputy           rawRef
}

// rawRouting is the routing: section as written; checkRouting resolves
// and validates it once every entry is known.
type rawRouting struct {
	pos                                            Pos
	days                                           int
	daysOK                                         bool
	hours                                          []Slot
	hoursOK                                        bool
	fallback, nobodyHelped, escalation, volunteers rawRef
	districts                                      []rawDistrictRule
	overrides                                      []rawOverride
}

var routingFields = []string{
	"response_working_days", "working_hours", "fallback", "nobody_helped", "escalation",
	"volunteers", "districts", "overrides",
}

// maxResponseDays bounds response_working_days: a promise further out
// than a working month is a typo or no promise at all.
const maxResponseDays = 20

// routingSection decodes and checks the routing: section n of d's file.
func (l *loader) routingSection(d *fdec, n *yaml.Node) {
	defer func() {
		// As for entries: a last line of defence, so that a curator's
		// mistake can never crash a live reload.
		if r := recover(); r != nil {
			l.routing = nil
			d.errf(n, "internal error while checking the routing")
		}
	}()
	d.routing(n)
	l.checkRouting()
}

// routing decodes the routing: section.
func (d *fdec) routing(n *yaml.Node) {
	m, ok := d.fields(n, "routing", routingFields...)
	if !ok {
		return
	}
	d.require(n, m, "routing", "response_working_days", "working_hours", "fallback", "districts")
	r := &rawRouting{pos: d.pos(n)}
	if v := m["response_working_days"]; v != nil {
		if days, ok := d.integer(v, "routing.response_working_days"); ok {
			if days < 1 || days > maxResponseDays {
				d.errf(v, "routing.response_working_days: %d is out of range (1 to %d)", days, maxResponseDays)
			} else {
				r.days, r.daysOK = days, true
			}
		}
	}
	if v := m["working_hours"]; v != nil {
		r.hoursOK = true
		d.seq(v, "routing.working_hours", func(c *yaml.Node) {
			s, ok := d.slot(c, "routing.working_hours")
			if !ok {
				r.hoursOK = false
				return
			}
			r.hours = append(r.hours, s)
		})
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			d.errf(v, "routing.working_hours: no hours given; write e.g. - {days: [mon, tue, wed, thu, fri], from: \"08:00\", to: \"16:00\"}")
			r.hoursOK = false
		}
	}
	ref := func(key, field string) rawRef {
		v := m[key]
		if v == nil {
			return rawRef{}
		}
		return d.ref(v, field)
	}
	r.fallback = ref("fallback", "routing.fallback")
	r.nobodyHelped = ref("nobody_helped", "routing.nobody_helped")
	r.escalation = ref("escalation", "routing.escalation")
	r.volunteers = ref("volunteers", "routing.volunteers")
	if v := m["districts"]; v != nil {
		d.seq(v, "routing.districts", func(c *yaml.Node) {
			const what = "routing.districts"
			mm, ok := d.fields(c, what, "district", "quartiermanager", "deputy", "volunteers")
			if !ok {
				return
			}
			d.require(c, mm, what, "district", "quartiermanager", "deputy")
			dr := rawDistrictRule{pos: d.pos(c)}
			for key, dst := range map[string]*rawRef{"district": &dr.district, "quartiermanager": &dr.qm, "deputy": &dr.deputy, "volunteers": &dr.volunteers} {
				if x := mm[key]; x != nil {
					*dst = d.ref(x, what+"."+key)
				}
			}
			r.districts = append(r.districts, dr)
		})
	}
	if v := m["overrides"]; v != nil {
		d.seq(v, "routing.overrides", func(c *yaml.Node) {
			const what = "routing.overrides"
			mm, ok := d.fields(c, what, "topic", "concept", "district", "person", "deputy")
			if !ok {
				return
			}
			d.require(c, mm, what, "person")
			o := rawOverride{pos: d.pos(c)}
			for key, dst := range map[string]*rawRef{"topic": &o.topic, "concept": &o.concept, "district": &o.district, "person": &o.person, "deputy": &o.deputy} {
				if x := mm[key]; x != nil {
					*dst = d.ref(x, what+"."+key)
				}
			}
			_, hasT := mm["topic"]
			_, hasC := mm["concept"]
			switch {
			case hasT && hasC:
				d.errf(c, "%s: give topic or concept, not both (write two rules)", what)
				return
			case !hasT && !hasC:
				d.errf(c, "%s: missing topic or concept (which requests does this rule take?)", what)
				return
			}
			r.overrides = append(r.overrides, o)
		})
	}
	d.l.rawRouting = r
}

// ref decodes one id and remembers where it was written.
func (d *fdec) ref(n *yaml.Node, field string) rawRef {
	s, ok := d.word(n, field)
	if !ok {
		return rawRef{}
	}
	return rawRef{id: s, pos: d.pos(n), field: field}
}

// Validation.

// checkRouting resolves the raw routing against the entries, reports
// every rule that points nowhere, every duplicate and every district
// without a Quartiermanager and deputy, and then proves by enumeration
// that every request reaches somebody.
func (l *loader) checkRouting() {
	raw := l.rawRouting
	if raw == nil {
		return
	}
	byID := make(map[string]*Entry, len(l.entries))
	for _, e := range l.entries {
		if _, dup := byID[e.ID]; !dup && e.ID != "" {
			byID[e.ID] = e
		}
	}
	r := &routing{
		pos:            raw.pos,
		days:           raw.days,
		hours:          raw.hours,
		districts:      map[string]districtRule{},
		topics:         map[overrideKey]rule{},
		concepts:       map[overrideKey]rule{},
		knownDistricts: map[string]bool{},
		knownTopics:    map[string]bool{},
		knownConcepts:  map[string]bool{},
	}
	for _, e := range l.entries {
		if e.Kind == KindDistrict && e.ID != "" {
			r.knownDistricts[e.ID] = true
		}
	}
	for _, t := range l.topics {
		r.knownTopics[t.ID] = true
	}
	for _, c := range l.concepts {
		r.knownConcepts[c.ID] = true
	}
	bad := false // a problem that makes the routing unusable was reported

	person := func(x rawRef) target {
		if !x.set() {
			return target{}
		}
		e, ok := byID[x.id]
		switch {
		case !ok:
			l.add(x.pos.File, x.pos.Line, fmt.Sprintf("%s: no person entry with id %q", x.field, x.id)+didYouMean(x.id, l.entryIDs(KindPerson)))
		case e.Kind != KindPerson:
			l.add(x.pos.File, x.pos.Line, fmt.Sprintf("%s: %q is a %s entry, not a person; routing rules point to person entries", x.field, x.id, e.Kind))
		default:
			return target{e: e, pos: x.pos}
		}
		bad = true
		return target{}
	}
	district := func(x rawRef) bool {
		if r.knownDistricts[x.id] {
			return true
		}
		msg := fmt.Sprintf("%s: no district with id %q", x.field, x.id) + didYouMean(x.id, l.entryIDs(KindDistrict))
		if e, ok := byID[x.id]; ok {
			msg = fmt.Sprintf("%s: %q is a %s entry, not a district", x.field, x.id, e.Kind)
		}
		l.add(x.pos.File, x.pos.Line, msg)
		bad = true
		return false
	}
	deputyDiffers := func(p, dep target, depRef rawRef) {
		if p.e != nil && p.e == dep.e {
			l.add(depRef.pos.File, depRef.pos.Line, fmt.Sprintf("%s: %q is also the person the rule names; the deputy must be somebody else", depRef.field, depRef.id))
			bad = true
		}
	}

	r.fallback = person(raw.fallback)
	r.nobodyHelped = person(raw.nobodyHelped)
	if !raw.nobodyHelped.set() {
		r.nobodyHelped = r.fallback
	}
	r.escalation = person(raw.escalation)
	if !raw.escalation.set() {
		r.escalation = r.fallback
	}
	r.volunteers = person(raw.volunteers)

	firstDistrict := map[string]Pos{}
	for _, dr := range raw.districts {
		if !dr.district.set() {
			bad = true
			continue
		}
		if !district(dr.district) {
			continue
		}
		if first, dup := firstDistrict[dr.district.id]; dup {
			l.add(dr.pos.File, dr.pos.Line, fmt.Sprintf("routing.districts: district %q has a rule already (%s:%d); keep one", dr.district.id, first.File, first.Line))
			bad = true
			continue
		}
		firstDistrict[dr.district.id] = dr.pos
		rule := districtRule{rule: rule{person: person(dr.qm), deputy: person(dr.deputy), pos: dr.pos}, volunteers: person(dr.volunteers)}
		if !dr.qm.set() || !dr.deputy.set() {
			bad = true
		}
		deputyDiffers(rule.person, rule.deputy, dr.deputy)
		if qm := rule.person.e; qm != nil && qm.District != "" && qm.District != dr.district.id {
			l.add(dr.qm.pos.File, dr.qm.pos.Line, fmt.Sprintf("routing.districts.quartiermanager: %q works for district %q, not %q", qm.ID, qm.District, dr.district.id))
			bad = true
		}
		r.districts[dr.district.id] = rule
	}
	for _, e := range l.entries {
		if e.Kind == KindDistrict && e.ID != "" {
			if _, ok := firstDistrict[e.ID]; !ok {
				l.add(raw.pos.File, raw.pos.Line, fmt.Sprintf("routing.districts: district %q (%s:%d) has no rule; every district needs a quartiermanager and a deputy", e.ID, e.Pos.File, e.Pos.Line))
				bad = true
			}
		}
	}

	firstOverride := map[string]Pos{}
	for _, o := range raw.overrides {
		kind, key, known, m := "topic", o.topic, r.knownTopics, r.topics
		if o.concept.set() {
			kind, key, known, m = "concept", o.concept, r.knownConcepts, r.concepts
		}
		if !key.set() {
			bad = true
			continue
		}
		if !known[key.id] {
			var ids []string
			for id := range known {
				ids = append(ids, id)
			}
			what := "topic"
			if kind == "concept" {
				what = "glossary concept"
			}
			l.add(key.pos.File, key.pos.Line, fmt.Sprintf("%s: no %s with id %q", key.field, what, key.id)+didYouMean(key.id, ids))
			bad = true
			continue
		}
		k := overrideKey{id: key.id}
		if o.district.set() {
			if !district(o.district) {
				continue
			}
			k.district = o.district.id
		}
		dupKey := kind + " " + k.id + " " + k.district
		if first, dup := firstOverride[dupKey]; dup {
			where := "city-wide"
			if k.district != "" {
				where = fmt.Sprintf("in district %q", k.district)
			}
			l.add(o.pos.File, o.pos.Line, fmt.Sprintf("routing.overrides: %s %q %s has a rule already (%s:%d); keep one", kind, k.id, where, first.File, first.Line))
			bad = true
			continue
		}
		firstOverride[dupKey] = o.pos
		ru := rule{person: person(o.person), deputy: person(o.deputy), pos: o.pos}
		if !o.person.set() {
			bad = true
		}
		deputyDiffers(ru.person, ru.deputy, o.deputy)
		m[k] = ru
	}

	if !raw.fallback.set() || !raw.daysOK || !raw.hoursOK {
		bad = true
	}
	if bad {
		// Each cause is reported where it is written; enumerating would
		// only repeat it for every combination it affects.
		return
	}
	if msg := r.prove(); msg != "" {
		l.add(raw.pos.File, raw.pos.Line, msg)
		return
	}
	l.routing = r
}

// prove routes every combination of district (and unknown district),
// topic (and unknown topic), each concept with an override (and none),
// volunteer or not, escalation or not, and returns a description of the
// first that reaches nobody or whose deputy is the primary, with the
// count of such combinations; "" if there are none.
func (r *routing) prove() string {
	districts := append([]string{""}, sortedIDs(r.knownDistricts)...)
	topics := append([]string{""}, sortedIDs(r.knownTopics)...)
	concepts := []string{""}
	seen := map[string]bool{}
	for k := range r.concepts {
		if !seen[k.id] {
			seen[k.id] = true
			concepts = append(concepts, k.id)
		}
	}
	sort.Strings(concepts[1:])
	var first string
	failed := 0
	for _, d := range districts {
		for _, t := range topics {
			for _, c := range concepts {
				for _, vol := range []bool{false, true} {
					for _, esc := range []bool{false, true} {
						req := RouteRequest{District: d, Topic: t, Volunteer: vol, Escalate: esc}
						if c != "" {
							req.Concepts = []string{c}
						}
						rt, err := r.route(req)
						var why string
						switch {
						case err != nil:
							why = err.Error()
						case rt.Primary == nil:
							why = "reaches nobody"
						case rt.Primary == rt.Deputy:
							why = "has the same person as primary and deputy"
						default:
							continue
						}
						failed++
						if first == "" {
							first = describeRequest(req) + " " + why
						}
					}
				}
			}
		}
	}
	if failed == 0 {
		return ""
	}
	return fmt.Sprintf("routing: %d kinds of request are not routed, e.g. %s", failed, first)
}

func describeRequest(req RouteRequest) string {
	or := func(s, unknown string) string {
		if s == "" {
			return unknown
		}
		return fmt.Sprintf("%q", s)
	}
	var b strings.Builder
	b.WriteString("a request for district " + or(req.District, "(unknown)") + ", topic " + or(req.Topic, "(unknown)"))
	if len(req.Concepts) > 0 {
		b.WriteString(", concept " + or(req.Concepts[0], ""))
	}
	if req.Volunteer {
		b.WriteString(", from a volunteer")
	}
	if req.Escalate {
		b.WriteString(", nobody helped so far")
	}
	return b.String()
}

func sortedIDs(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
