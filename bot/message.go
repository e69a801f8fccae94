package bot

import "time"

// ChatType is the kind of chat a message came from.
type ChatType string

// Chat types, as Telegram names them.
const (
	ChatPrivate    ChatType = "private"
	ChatGroup      ChatType = "group"
	ChatSupergroup ChatType = "supergroup"
	ChatChannel    ChatType = "channel"
)

// InKind says what an incoming update carries.
type InKind int

// Kinds of incoming update.
const (
	InText     InKind = iota // a text message (commands included)
	InCallback               // a button press
	InLocation               // a shared location or venue
	InPhoto
	InDocument
	InVoice // voice or audio
	InVideo // video or video note
	InSticker
	InContact
	InEdited // an edited message
	InOther  // anything else we do not act on
)

// Incoming is a transport-neutral update from a user.
type Incoming struct {
	UpdateID int64
	ChatID   int64
	ChatType ChatType
	UserID   int64
	// LanguageCode is the IETF tag the user's client reports ("" if none).
	LanguageCode string
	// FirstName is used only to address the user; it is never stored or logged.
	FirstName string
	IsBot     bool
	MessageID int
	Kind      InKind
	Text      string // message text or caption
	// Command is the bot command without slash and @botname ("start"), Args the rest.
	Command string
	Args    string
	// Callback queries.
	CallbackID   string
	CallbackData string
	// Locations.
	Location *Location
	// Attachments (photos, documents, voice): the transport's file id, for relaying.
	FileID string
	// ReplyTo is the id of the message this one replies to (0: none), so
	// a reply to a forwarded request finds its ticket.
	ReplyTo int
	// ReplyHead is the first line of the text or caption of the message
	// replied to, only if the bot itself sent that message ("" for a
	// reply to anybody else's message, and for no reply). It finds the
	// ticket of a request message whose link was never stored (the bot
	// died after Telegram accepted it). At most MaxReplyHead bytes.
	ReplyHead string
	// ThreadID is the forum topic (message_thread_id) the message was
	// written in, and TopicMessage reports that it was written inside a
	// topic of a forum group (is_topic_message); 0 and false elsewhere.
	// A message in a topic that replies to nothing but the topic itself
	// has ReplyTo 0: the transport drops that implicit reply.
	ThreadID     int
	TopicMessage bool
	Time         time.Time
}

// MaxReplyHead is the longest Incoming.ReplyHead a transport passes on.
const MaxReplyHead = 256

// Location is a point a user shared.
type Location struct {
	Lat, Lon float64
}

// Button is an inline keyboard button: either Data (sent back as a
// callback, at most 64 bytes) or URL.
type Button struct {
	Text string
	Data string
	URL  string
}

// Venue is a place to show on a map.
type Venue struct {
	Lat, Lon float64
	Title    string
	Address  string
}

// Document is a file to send.
type Document struct {
	Name    string
	Content []byte
	Caption string
}

// FileRef is a photo or document the transport already holds, sent again
// by its file id (relayed between a requester and staff without Lotse
// ever downloading it).
type FileRef struct {
	// Kind is AttachPhoto or AttachDocument.
	Kind    string
	FileID  string
	Caption string // at most 1024 characters
}

// Attachment kinds of FileRef and Attachment.
const (
	AttachPhoto    = "photo"
	AttachDocument = "document"
)

// Outgoing is a transport-neutral message to a chat. Text is plain text:
// the transport must deliver it verbatim (no markup is interpreted),
// splitting it if it is too long. Exactly one of Text, Venue, Document or
// File is the payload; Buttons attach to the (last part of the) text.
type Outgoing struct {
	ChatID   int64
	Text     string
	Buttons  [][]Button
	Venue    *Venue
	Document *Document
	File     *FileRef
	// ReplyTo quotes a message (0: none).
	ReplyTo int
	// ThreadID posts the message into that forum topic of the chat
	// (message_thread_id; 0: the chat itself, a forum's general topic).
	ThreadID int
	// RTL marks right-to-left text so the transport can keep it readable.
	RTL bool
}
