package bottest

// Canaries: names and message texts that tests send as users and staff.
// None of them may ever appear in a log record at info level or above:
// scripts/test.sh runs the whole suite with LogFileEnv set and then fails
// if the file holds any of them (TestLogFileCanaries). Tests that check
// their own logs use them too, so the list stays the one place naming
// what must never be logged. Each is distinctive enough not to occur in
// a log by chance (no knowledge base entry, key or code uses it).
const (
	// CanaryName is a user's first name (Telegram's first_name).
	CanaryName = "Zelmirova"
	// CanaryText is a distinctive word inside a user's message.
	CanaryText = "quxwerty"
	// CanaryRequest is a request to a person as a user would write it.
	CanaryRequest = "Ich suche dringend eine Wohnung " + CanaryText
	// CanaryClosed and CanaryOpen are words in requests that are closed
	// and still open when the user asks for /mydata.
	CanaryClosed = "plokmijn"
	CanaryOpen   = "qazwsxed"
	// CanaryQuestion is a question the knowledge base cannot answer.
	CanaryQuestion = "zxqv blorf wibble grobnik"
)

// Canaries lists every string that must not appear in any log at info
// level or above: the constants above and the names and texts older tests
// send ("Samira", the requester's first name in the ticket tests of bot
// and cmd/lotse; the Russian request text of TestPrivacyMyDataForget; the
// Ukrainian and Arabic questions of cmd/lotse's end-to-end tests, whole,
// since their words also name offices. "Test", the first name the fake
// Bot API gives every user, is too common a word to check).
var Canaries = []string{
	CanaryName, CanaryText, CanaryClosed, CanaryOpen, "blorf",
	"Samira", "квартирой", "Де Jobcenter?", "أين مكتب الأجانب",
}
