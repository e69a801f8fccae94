package knowledge

import "time"

// Kind says what an entry describes.
type Kind string

// The kinds of entry a knowledge base may hold.
const (
	KindOffice      Kind = "office"      // authority or public office (Ausländerbehörde, Jobcenter, ...)
	KindCounselling Kind = "counselling" // counselling service (Caritas, Diakonie, ...)
	KindCafe        Kind = "cafe"        // café or meeting place
	KindCourse      Kind = "course"      // language or other course
	KindEvent       Kind = "event"       // one-off or recurring event
	KindDistrict    Kind = "district"    // a district of the city
	KindPerson      Kind = "person"      // a person or role (Quartiermanager, coordinator, ...)
)

// Kinds lists every valid kind, in display order.
var Kinds = []Kind{KindOffice, KindCounselling, KindCafe, KindCourse, KindEvent, KindDistrict, KindPerson}

// Audience says whom an event is for.
type Audience string

// Audiences of events.
const (
	AudienceRefugees   Audience = "refugees"
	AudienceVolunteers Audience = "volunteers"
	AudienceEverybody  Audience = "everybody"
)

// Text is a text in several languages, keyed by base language code
// ("de", "en", "ar", "fa", "uk", "ru", "tr", "fr", ...).
type Text map[string]string

// In returns the text in lang, falling back to English, then German (for
// German readers: German, then English). Newcomers read English far more
// often than German; the official German name is shown next to every
// translation anyway. The second result is the language of the returned
// text ("" if none).
func (t Text) In(lang string) (string, string) {
	second, third := "en", "de"
	if lang == "de" {
		second, third = "de", "en"
	}
	for _, l := range [...]string{lang, second, third} {
		if s := t[l]; s != "" {
			return s, l
		}
	}
	return "", ""
}

// Pos is where something was defined in the curated files.
type Pos struct {
	File string
	Line int
}

// Point is a WGS84 coordinate.
type Point struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

// Address is a postal address.
type Address struct {
	Street   string
	Postcode string
	City     string
}

// Contact holds the ways to reach an entry.
type Contact struct {
	Phone   string
	Email   string
	Website string
}

// Entry is one curated item of the knowledge base.
type Entry struct {
	ID     string
	Kind   Kind
	NameDE string // official German name: always shown next to any translation

	Title   Text // short name per language (NameDE is used where missing)
	Summary Text // one or two sentences per language
	Details Text // longer text per language

	Address   Address
	Geo       *Point // nil if unknown
	Hours     *Hours // nil if the entry has no opening hours
	Contact   Contact
	Languages []string // languages spoken on site
	District  string   // id of a KindDistrict entry; "" means city-wide
	Topics    []string // ids of topics (fields of action)
	Keywords  map[string][]string
	Concepts  []string // ids of glossary concepts this entry is about

	// Persons only.
	Role          string // quartiermanager, coordinator, case_manager, housing, school, volunteer_coordinator
	ContactPerson string // fictional person's name, shown to users

	// Districts only.
	Postcodes []string
	Streets   []string // street names, for finding the district from an address

	Event *Event // events only

	LastChecked time.Time // date the content was last checked
	Owner       string    // office responsible for the content

	Pos Pos
}

// Hours are an entry's structured opening hours in the city's time zone.
type Hours struct {
	Weekly           []Slot
	AppointmentOnly  bool
	ClosedOnHolidays bool // default true: closed on the state's public holidays
	Exceptions       []Exception
	Note             Text
}

// Slot is a weekly opening interval: on each of Days, From to To
// (minutes after midnight, To > From).
type Slot struct {
	Days     []time.Weekday
	From, To int
}

// Exception overrides the weekly hours on one date: closed, or open
// only From to To.
type Exception struct {
	Date     time.Time // midnight in the city's time zone
	Closed   bool
	From, To int
	Note     Text
}

// Event holds the dates of a one-off or recurring event.
type Event struct {
	Audience     []Audience
	Registration string       // URL, optional
	Venue        string       // id of the entry where it takes place, optional
	Dates        []Occurrence // one-off dates
	Weekly       []Slot       // recurring weekly, between From and Until
	From, Until  time.Time    // bounds of the recurrence (dates; zero = unbounded)
	Cancelled    []time.Time  // dates (midnight local) on which the recurrence does not take place
	Changed      []Change     // dates moved or re-timed
}

// Change moves the occurrence on Date to Start..End.
type Change struct {
	Date       time.Time
	Start, End time.Time
	Note       Text
}

// Occurrence is one concrete date of an event.
type Occurrence struct {
	Start, End time.Time
	Cancelled  bool // shown as cancelled, not as upcoming
	Changed    bool // moved from its usual date or time
	Note       Text // optional note about a change
}

// Topic is a field of action (housing & benefits, language & education, ...).
type Topic struct {
	ID   string
	Name Text
	Pos  Pos
}

// Concept is a glossary concept with its terms in many languages; it lets
// a question in one language find entries written in another.
type Concept struct {
	ID    string
	Terms map[string][]string
	Pos   Pos
}

// City describes the (fictional or real) city a knowledge base is about.
type City struct {
	Name           string
	State          string // German state code for public holidays, e.g. "NW"
	Timezone       string // IANA name, default Europe/Berlin
	Sample         bool   // true for the embedded sample data
	StaleAfterDays int    // entries not checked for longer are stale (default 365)
}
