package knowledge_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lotse-bot/lotse/knowledge"
)

// routingPeople adds a second district and the people the test routing
// points to to the valid test base (which has district nord, topics
// housing and language, concept language_course and office buergeramt).
const routingPeople = `entries:
  - id: sued
    kind: district
    name_de: Südviertel
    summary: {de: a, en: b}
    postcodes: ["47109"]
    last_checked: 2026-01-01
    owner: Amt
  - {id: qm-nord, kind: person, role: quartiermanager, name_de: QM Nord, district: nord, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
  - {id: qm-sued, kind: person, role: quartiermanager, name_de: QM Süd, district: sued, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
  - {id: vertretung, kind: person, role: quartiermanager, name_de: Vertretung, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
  - {id: koord, kind: person, role: coordinator, name_de: Koordinierung, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
  - {id: fall, kind: person, role: case_manager, name_de: Fallmanagement, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
  - {id: ehrenamt, kind: person, role: volunteer_coordinator, name_de: Ehrenamt, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
  - {id: wohnen, kind: person, role: housing, name_de: Wohnen, summary: {de: a, en: b}, last_checked: 2026-01-01, owner: Amt}
`

// routingYAML is a valid routing section; the problem cases below edit
// single lines, so its line numbers matter.
const routingYAML = `routing:
  response_working_days: 2
  working_hours:
    - {days: [mon, tue, wed, thu, fri], from: "08:00", to: "16:00"}
  fallback: koord
  nobody_helped: fall
  volunteers: ehrenamt
  districts:
    - {district: nord, quartiermanager: qm-nord, deputy: vertretung}
    - {district: sued, quartiermanager: qm-sued, deputy: vertretung}
  overrides:
    - {topic: housing, person: wohnen}
    - {concept: language_course, person: koord}
`

func routingBase(t testing.TB, routing string) fstest.MapFS {
	t.Helper()
	return withFiles(validBase(t), map[string]string{"people.yaml": routingPeople, "routing.yaml": routing})
}

// withLine replaces line n (1-based) of s by repl, which may be several
// lines or none.
func withLine(t testing.TB, s string, n int, repl string) string {
	t.Helper()
	lines := strings.Split(s, "\n")
	if n < 1 || n > len(lines) {
		t.Fatalf("no line %d", n)
	}
	var out []string
	out = append(out, lines[:n-1]...)
	if repl != "" {
		out = append(out, strings.Split(repl, "\n")...)
	}
	out = append(out, lines[n:]...)
	return strings.Join(out, "\n")
}

func mustRoute(t testing.TB, kb *knowledge.KB, req knowledge.RouteRequest) knowledge.Route {
	t.Helper()
	rt, err := kb.Route(req)
	if err != nil {
		t.Fatalf("Route(%+v): %v", req, err)
	}
	if rt.Primary == nil {
		t.Fatalf("Route(%+v): no primary", req)
	}
	return rt
}

func id(e *knowledge.Entry) string {
	if e == nil {
		return ""
	}
	return e.ID
}

func TestRoutingLoads(t *testing.T) {
	kb := mustLoad(t, routingBase(t, routingYAML))
	if got := kb.ResponseWorkingDays(); got != 2 {
		t.Errorf("ResponseWorkingDays = %d, want 2", got)
	}
	if got := id(kb.EscalationTarget()); got != "koord" {
		t.Errorf("EscalationTarget = %q, want koord (the fallback, as escalation is not set)", got)
	}
	var got []string
	for _, e := range kb.RoutingTargets() {
		got = append(got, e.ID)
	}
	if want := "qm-nord qm-sued vertretung koord fall ehrenamt wohnen"; strings.Join(got, " ") != want {
		t.Errorf("RoutingTargets = %v, want %s", got, want)
	}
}

// TestRouteAllCombinations routes every combination of district (known
// and unknown), topic (known and unknown), concept, volunteer and
// escalation in the test base and checks each against the rules as
// written in routingYAML.
func TestRouteAllCombinations(t *testing.T) {
	kb := mustLoad(t, routingBase(t, routingYAML))
	qm := map[string]string{"nord": "qm-nord", "sued": "qm-sued"}
	n := 0
	for _, district := range []string{"", "nord", "sued"} {
		for _, topic := range []string{"", "housing", "language"} {
			for _, concepts := range [][]string{nil, {"language_course"}} {
				for _, vol := range []bool{false, true} {
					for _, esc := range []bool{false, true} {
						req := knowledge.RouteRequest{District: district, Topic: topic, Concepts: concepts, Volunteer: vol, Escalate: esc}
						var primary, deputy, reason string
						switch {
						case esc:
							primary, deputy, reason = "fall", "koord", knowledge.ReasonEscalation
						case vol:
							primary, deputy, reason = "ehrenamt", "koord", knowledge.ReasonVolunteer
						case concepts != nil:
							primary, deputy, reason = "koord", "fall", "concept:language_course"
						case topic == "housing":
							primary, deputy, reason = "wohnen", "koord", "topic:housing"
						case district != "":
							primary, deputy, reason = qm[district], "vertretung", knowledge.ReasonDistrict
						default:
							primary, deputy, reason = "koord", "fall", knowledge.ReasonFallback
						}
						rt := mustRoute(t, kb, req)
						n++
						if id(rt.Primary) != primary || id(rt.Deputy) != deputy || rt.Reason != reason {
							t.Errorf("Route(%+v) = %s / %s (%s), want %s / %s (%s)", req, id(rt.Primary), id(rt.Deputy), rt.Reason, primary, deputy, reason)
						}
						if rt.Rule.File != "routing.yaml" || rt.Rule.Line < 1 {
							t.Errorf("Route(%+v).Rule = %+v, want a line in routing.yaml", req, rt.Rule)
						}
					}
				}
			}
		}
	}
	if n != 72 {
		t.Fatalf("routed %d combinations, want 72", n)
	}
}

func TestRouteOverridesPerDistrict(t *testing.T) {
	routing := strings.Replace(routingYAML,
		"deputy: vertretung}\n    - {district: sued",
		"deputy: vertretung, volunteers: qm-nord}\n    - {district: sued", 1) +
		"    - {topic: housing, district: sued, person: qm-sued, deputy: wohnen}\n"
	kb := mustLoad(t, routingBase(t, routing))
	tests := []struct {
		req                     knowledge.RouteRequest
		primary, deputy, reason string
	}{
		{knowledge.RouteRequest{District: "sued", Topic: "housing"}, "qm-sued", "wohnen", "topic:housing"},
		{knowledge.RouteRequest{District: "nord", Topic: "housing"}, "wohnen", "koord", "topic:housing"},
		{knowledge.RouteRequest{Topic: "housing"}, "wohnen", "koord", "topic:housing"},
		{knowledge.RouteRequest{District: "nord", Volunteer: true}, "qm-nord", "ehrenamt", knowledge.ReasonVolunteer},
		{knowledge.RouteRequest{District: "sued", Volunteer: true}, "ehrenamt", "koord", knowledge.ReasonVolunteer},
		{knowledge.RouteRequest{District: "nord", Volunteer: true, Escalate: true}, "fall", "koord", knowledge.ReasonEscalation},
		// A concept wins over the topic.
		{knowledge.RouteRequest{District: "sued", Topic: "housing", Concepts: []string{"language_course"}}, "koord", "fall", "concept:language_course"},
	}
	for _, tt := range tests {
		rt := mustRoute(t, kb, tt.req)
		if id(rt.Primary) != tt.primary || id(rt.Deputy) != tt.deputy || rt.Reason != tt.reason {
			t.Errorf("Route(%+v) = %s / %s (%s), want %s / %s (%s)", tt.req, id(rt.Primary), id(rt.Deputy), rt.Reason, tt.primary, tt.deputy, tt.reason)
		}
	}
}

func TestRouteErrors(t *testing.T) {
	kb := mustLoad(t, routingBase(t, routingYAML))
	for _, req := range []knowledge.RouteRequest{
		{District: "nirgendwo"},
		{District: "buergeramt"}, // an entry, but not a district
		{Topic: "sports"},
		{Concepts: []string{"language_course", "nope"}},
	} {
		if _, err := kb.Route(req); !errors.Is(err, knowledge.ErrUnknownID) {
			t.Errorf("Route(%+v) error = %v, want ErrUnknownID", req, err)
		}
	}

	plain := mustLoad(t, validBase(t))
	if _, err := plain.Route(knowledge.RouteRequest{}); !errors.Is(err, knowledge.ErrNoRouting) {
		t.Errorf("Route without routing: error = %v, want ErrNoRouting", err)
	}
	if plain.EscalationTarget() != nil || plain.RoutingTargets() != nil || plain.ResponseWorkingDays() != 0 {
		t.Errorf("a base without routing reports routing: %v %v %d", plain.EscalationTarget(), plain.RoutingTargets(), plain.ResponseWorkingDays())
	}
}

// TestSampleRouting checks the sample's routing table over every
// combination of its districts and topics, against the rules as
// sample/routing.yaml states them.
func TestSampleRouting(t *testing.T) {
	kb := mustSample(t)
	deputy := map[string]string{"mitte": "qm-west", "nord": "qm-hafen", "sued": "qm-feldmark", "ost": "qm-mitte", "west": "qm-mitte", "hafen": "qm-nord", "feldmark": "qm-sued"}
	districts := []string{""}
	for _, d := range kb.OfKind(knowledge.KindDistrict) {
		districts = append(districts, d.ID)
		if _, ok := deputy[d.ID]; !ok {
			t.Errorf("district %s is new: add it to this test", d.ID)
		}
	}
	topics := []string{""}
	for _, tp := range kb.Topics() {
		topics = append(topics, tp.ID)
	}
	for _, d := range districts {
		for _, tp := range topics {
			for _, concepts := range [][]string{nil, {"school"}, {"rent", "school"}} {
				for _, vol := range []bool{false, true} {
					for _, esc := range []bool{false, true} {
						req := knowledge.RouteRequest{District: d, Topic: tp, Concepts: concepts, Volunteer: vol, Escalate: esc}
						var p, dep, reason string
						switch {
						case esc:
							p, dep, reason = "fallmanagement", "koordinierungsstelle", "escalation"
						case vol && d == "nord":
							p, dep, reason = "qm-nord", "ehrenamt", "volunteer"
						case vol:
							p, dep, reason = "ehrenamt", "koordinierungsstelle", "volunteer"
						case concepts != nil:
							p, dep, reason = "schulplatz", "koordinierungsstelle", "concept:school"
						case tp == "housing" && d == "hafen":
							p, dep, reason = "qm-hafen", "wohnraum", "topic:housing"
						case tp == "housing":
							p, dep, reason = "wohnraum", "koordinierungsstelle", "topic:housing"
						case d != "":
							p, dep, reason = "qm-"+d, deputy[d], "district"
						default:
							p, dep, reason = "koordinierungsstelle", "fallmanagement", "fallback"
						}
						rt := mustRoute(t, kb, req)
						if id(rt.Primary) != p || id(rt.Deputy) != dep || rt.Reason != reason {
							t.Errorf("Route(%+v) = %s / %s (%s), want %s / %s (%s)", req, id(rt.Primary), id(rt.Deputy), rt.Reason, p, dep, reason)
						}
						if rt.Primary.Kind != knowledge.KindPerson || rt.Deputy == nil || rt.Deputy == rt.Primary {
							t.Errorf("Route(%+v): primary %s (%s), deputy %s", req, rt.Primary.ID, rt.Primary.Kind, id(rt.Deputy))
						}
					}
				}
			}
		}
	}
	if got := id(kb.EscalationTarget()); got != "koordinierungsstelle" {
		t.Errorf("EscalationTarget = %s", got)
	}
	// Every person in the sample is somebody's routing target.
	if got, want := len(kb.RoutingTargets()), len(kb.OfKind(knowledge.KindPerson)); got != want {
		t.Errorf("%d routing targets, want all %d persons", got, want)
	}
}

func TestRoutingProblems(t *testing.T) {
	r := routingYAML
	tests := []struct {
		name  string
		files map[string]string // routing.yaml and others
		want  []want
	}{
		{"unknown person", map[string]string{"routing.yaml": withLine(t, r, 5, "  fallback: kord")},
			[]want{{"routing.yaml", 5, `routing.fallback: no person entry with id "kord" (did you mean "koord"?)`}}},
		{"office instead of person", map[string]string{"routing.yaml": withLine(t, r, 6, "  nobody_helped: buergeramt")},
			[]want{{"routing.yaml", 6, `routing.nobody_helped: "buergeramt" is a office entry, not a person`}}},
		{"district instead of person", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: housing, person: nord}")},
			[]want{{"routing.yaml", 12, `routing.overrides.person: "nord" is a district entry, not a person`}}},
		{"dangling volunteer contact", map[string]string{"routing.yaml": withLine(t, r, 10, "    - {district: sued, quartiermanager: qm-sued, deputy: vertretung, volunteers: ehrenamtt}")},
			[]want{{"routing.yaml", 10, `routing.districts.volunteers: no person entry with id "ehrenamtt" (did you mean "ehrenamt"?)`}}},
		{"district without rule", map[string]string{"routing.yaml": withLine(t, r, 10, "")},
			[]want{{"routing.yaml", 2, `routing.districts: district "sued" (people.yaml:2) has no rule`}}},
		{"rule for an office", map[string]string{"routing.yaml": withLine(t, r, 10, "    - {district: buergeramt, quartiermanager: qm-sued, deputy: vertretung}")},
			[]want{{"routing.yaml", 10, `routing.districts.district: "buergeramt" is a office entry, not a district`},
				{"routing.yaml", 2, `district "sued" (people.yaml:2) has no rule`}}},
		{"rule for unknown district", map[string]string{"routing.yaml": withLine(t, r, 10, "    - {district: sud, quartiermanager: qm-sued, deputy: vertretung}")},
			[]want{{"routing.yaml", 10, `routing.districts.district: no district with id "sud" (did you mean "sued"?)`},
				{"routing.yaml", 2, `district "sued" (people.yaml:2) has no rule`}}},
		{"duplicate district rule", map[string]string{"routing.yaml": withLine(t, r, 10, "    - {district: sued, quartiermanager: qm-sued, deputy: vertretung}\n    - {district: nord, quartiermanager: qm-nord, deputy: vertretung}")},
			[]want{{"routing.yaml", 11, `routing.districts: district "nord" has a rule already (routing.yaml:9)`}}},
		{"deputy is the quartiermanager", map[string]string{"routing.yaml": withLine(t, r, 9, "    - {district: nord, quartiermanager: qm-nord, deputy: qm-nord}")},
			[]want{{"routing.yaml", 9, `routing.districts.deputy: "qm-nord" is also the person the rule names`}}},
		{"missing deputy", map[string]string{"routing.yaml": withLine(t, r, 9, "    - {district: nord, quartiermanager: qm-nord}")},
			[]want{{"routing.yaml", 9, "routing.districts: missing deputy"}}},
		{"quartiermanager of another district", map[string]string{"routing.yaml": withLine(t, r, 10, "    - {district: sued, quartiermanager: qm-nord, deputy: vertretung}")},
			[]want{{"routing.yaml", 10, `routing.districts.quartiermanager: "qm-nord" works for district "nord", not "sued"`}}},
		{"duplicate topic override", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: housing, person: wohnen}\n    - {topic: housing, person: koord}")},
			[]want{{"routing.yaml", 13, `routing.overrides: topic "housing" city-wide has a rule already (routing.yaml:12)`}}},
		{"duplicate district override", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: housing, district: nord, person: wohnen}\n    - {topic: housing, district: nord, person: koord}")},
			[]want{{"routing.yaml", 13, `routing.overrides: topic "housing" in district "nord" has a rule already (routing.yaml:12)`}}},
		{"duplicate concept override", map[string]string{"routing.yaml": r + "    - {concept: language_course, person: wohnen}\n"},
			[]want{{"routing.yaml", 14, `routing.overrides: concept "language_course" city-wide has a rule already (routing.yaml:13)`}}},
		{"topic and concept", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: housing, concept: language_course, person: wohnen}")},
			[]want{{"routing.yaml", 12, "routing.overrides: give topic or concept, not both"}}},
		{"neither topic nor concept", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {person: wohnen}")},
			[]want{{"routing.yaml", 12, "routing.overrides: missing topic or concept"}}},
		{"override without person", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: housing}")},
			[]want{{"routing.yaml", 12, "routing.overrides: missing person"}}},
		{"unknown topic", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: hausing, person: wohnen}")},
			[]want{{"routing.yaml", 12, `routing.overrides.topic: no topic with id "hausing" (did you mean "housing"?)`}}},
		{"unknown concept", map[string]string{"routing.yaml": withLine(t, r, 13, "    - {concept: language-course, person: koord}")},
			[]want{{"routing.yaml", 13, `routing.overrides.concept: no glossary concept with id "language-course" (did you mean "language_course"?)`}}},
		{"override for unknown district", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: housing, district: west, person: wohnen}")},
			[]want{{"routing.yaml", 12, `routing.overrides.district: no district with id "west"`}}},
		{"override deputy is the person", map[string]string{"routing.yaml": withLine(t, r, 12, "    - {topic: housing, person: wohnen, deputy: wohnen}")},
			[]want{{"routing.yaml", 12, `routing.overrides.deputy: "wohnen" is also the person the rule names`}}},
		{"missing fallback", map[string]string{"routing.yaml": withLine(t, r, 5, "")},
			[]want{{"routing.yaml", 2, "routing: missing fallback"}}},
		{"missing districts", map[string]string{"routing.yaml": withLine(t, withLine(t, withLine(t, r, 10, ""), 9, ""), 8, "")},
			[]want{{"routing.yaml", 2, "routing: missing districts"},
				{"routing.yaml", 2, `district "nord" (entries.yaml:2) has no rule`},
				{"routing.yaml", 2, `district "sued" (people.yaml:2) has no rule`}}},
		{"response days zero", map[string]string{"routing.yaml": withLine(t, r, 2, "  response_working_days: 0")},
			[]want{{"routing.yaml", 2, "routing.response_working_days: 0 is out of range (1 to 20)"}}},
		{"response days text", map[string]string{"routing.yaml": withLine(t, r, 2, "  response_working_days: two")},
			[]want{{"routing.yaml", 2, "routing.response_working_days: expected a whole number"}}},
		{"no working hours", map[string]string{"routing.yaml": withLine(t, withLine(t, r, 4, ""), 3, "  working_hours: []")},
			[]want{{"routing.yaml", 3, "routing.working_hours: no hours given"}}},
		{"working hours backwards", map[string]string{"routing.yaml": withLine(t, r, 4, `    - {days: [mon], from: "16:00", to: "08:00"}`)},
			[]want{{"routing.yaml", 4, "routing.working_hours: from 16:00 is not before to 08:00"}}},
		{"unknown field", map[string]string{"routing.yaml": withLine(t, r, 7, "  volunteers: ehrenamt\n  escalaton: koord")},
			[]want{{"routing.yaml", 8, `unknown field "escalaton" in routing (did you mean "escalation"?)`}}},
		{"unknown rule field", map[string]string{"routing.yaml": withLine(t, r, 9, "    - {district: nord, quartiermanager: qm-nord, deputy: vertretung, deputy2: koord}")},
			[]want{{"routing.yaml", 9, `unknown field "deputy2" in routing.districts`}}},
		{"routing twice", map[string]string{"routing.yaml": r, "x.yaml": "routing:\n  fallback: koord\n"},
			[]want{{"x.yaml", 1, "routing defined again (first in routing.yaml:1); keep exactly one"}}},
		{"routing not a mapping", map[string]string{"routing.yaml": "routing: [koord]\n"},
			[]want{{"routing.yaml", 1, "routing: expected a mapping"}}},
		{"streets on an office", map[string]string{"routing.yaml": r, "x.yaml": entryHead + "    streets: [Marktstraße]\n"},
			[]want{{"x.yaml", 8, "streets: only district entries have streets"}}},
		{"street listed twice", map[string]string{"routing.yaml": r, "x.yaml": strings.Replace(entryHead, "kind: office", "kind: district", 1) + "    streets: [Marktstraße, Marktstraße]\n"},
			[]want{{"x.yaml", 8, `streets: "Marktstraße" listed twice`}, {"routing.yaml", 2, `district "x" (x.yaml:2) has no rule`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"people.yaml": routingPeople}
			for k, v := range tt.files {
				files[k] = v
			}
			le := mustFail(t, withFiles(validBase(t), files))
			assertProblems(t, le, tt.want)
			for _, p := range le.Problems {
				if p.File == "" || p.Line < 1 {
					t.Errorf("problem without file and line: %s", p)
				}
			}
		})
	}
}

// TestRoutingProblemsAllReported checks that one broken routing reports
// each of its problems, not only the first.
func TestRoutingProblemsAllReported(t *testing.T) {
	r := withLine(t, routingYAML, 5, "  fallback: kord")
	r = withLine(t, r, 9, "    - {district: nord, quartiermanager: qm-nord, deputy: qm-nord}")
	r = withLine(t, r, 12, "    - {topic: hausing, person: wohnen}")
	le := mustFail(t, routingBase(t, r))
	if len(le.Problems) != 3 {
		t.Fatalf("got %d problems, want 3:\n%v", len(le.Problems), le)
	}
	for i, line := range []int{5, 9, 12} {
		if p := le.Problems[i]; p.File != "routing.yaml" || p.Line != line {
			t.Errorf("problem %d = %s, want routing.yaml:%d", i, p, line)
		}
	}
}

func ExampleKB_Route() {
	kb, err := knowledge.Sample()
	if err != nil {
		panic(err)
	}
	for _, req := range []knowledge.RouteRequest{
		{District: "nord"},
		{District: "nord", Topic: "housing"},
		{District: "hafen", Topic: "housing"},
		{District: "sued", Concepts: []string{"school"}},
		{Volunteer: true},
		{District: "ost", Escalate: true},
		{},
	} {
		rt, err := kb.Route(req)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-10s %-20s deputy %-20s %s\n", req.District, rt.Primary.ID, rt.Deputy.ID, rt.Reason)
	}
	// Output:
	// nord       qm-nord              deputy qm-hafen             district
	// nord       wohnraum             deputy koordinierungsstelle topic:housing
	// hafen      qm-hafen             deputy wohnraum             topic:housing
	// sued       schulplatz           deputy koordinierungsstelle concept:school
	//            ehrenamt             deputy koordinierungsstelle volunteer
	// ost        fallmanagement       deputy koordinierungsstelle escalation
	//            koordinierungsstelle deputy fallmanagement       fallback
}
