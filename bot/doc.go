// Package bot is Lotse's application: the conversation flows that turn
// incoming messages into answers from the knowledge base. It defines the
// small ports it needs (Sender, Store) and transport-neutral message
// types; it never sees a Telegram update or a Redis client.
//
// # One update
//
// Bot.Handle processes one Incoming with at most three store round trips.
// First a per-user inbound limit (FloodLimit, in memory) drops updates of
// a user who floods, before the store is asked; one notice tells them.
// Then the update is claimed for a short lease and the session loaded
// (UpdateClaimer.BeginClaim, one round trip): an update marked done is a
// repeated delivery (Telegram redelivers until confirmed; webhooks retry)
// and dropped; one still claimed returns ErrInProgress, so the transport
// retries it after the lease of a handler that died; ErrNotFound: a new
// user. The flow computes the replies, a callback query is answered
// (always, on every path, even for duplicates and failures), the replies
// are sent, and only then is the update marked done, together with the
// session if it changed (or once a day, to renew its TTL): a crash before
// the reply loses nothing, a crash between the reply and the mark answers
// the redelivery twice. A reply that cannot be sent releases the claim.
// Stores without UpdateClaimer use FirstSeen, which marks the update done
// before the reply. If the store fails, the user
// still gets an answer from the knowledge base and the stored session is
// left alone; nothing but an error class is logged. Users are known to the
// store only by UserKey, an HMAC of their Telegram id.
//
// # Flows
//
//   - Language: a new user's Telegram language is matched with i18n.Match.
//     If there is no confident match, Lotse greets in German and English and
//     offers one button per shipped language; until the user chooses, it
//     answers in English. /language shows the buttons any time.
//   - First contact: the privacy notice (what is stored, that Telegram is not
//     end-to-end encrypted, not to send documents, /privacy) is shown once,
//     with whatever the first reply in a known language is.
//   - /start greets and shows the topics; /start <entry-id> (a deep link
//     from a poster or QR code) opens that entry, after the language
//     choice if one is needed. Invalid payloads just greet.
//   - Questions are searched in the knowledge base. Only confident results
//     are shown: the best as an answer card, the others as "More: …"
//     buttons. Without a confident result Lotse says it does not know and
//     offers a person and the topics; it never shows a random entry.
//   - Answer cards are plain text: translated title with the official German
//     name, summary (flagged when not in the user's language), opening
//     status in the city's time zone, next event date, address and
//     contacts, languages spoken, district. Details and the map are behind
//     buttons.
//   - Topics list their entries as buttons, eight per page.
//   - "Ask a person" (or /person), with staff configured (Config.Staff),
//     builds a request: district (buttons, a typed postcode, street or name
//     confirmed below 0.9 confidence, or a shared location; remembered only
//     if the user agrees), topic (guessed from the entry last viewed),
//     "nobody helped me so far", the text and photos/documents (file ids
//     only), then a confirmation. The ticket is stored (CreateTicket)
//     before the user sees "sent" with the reference and the promised
//     working days; a store failure says so honestly and keeps the draft.
//     The assignee's chat (the deputy while the person is /away) gets the
//     request with Claim, Reply, Hand over and Close; the requester's name
//     only if they chose "send with my first name". Staff answer with Reply
//     or by replying to the request message; the requester answers with the
//     Answer button or by replying; files are relayed by file id. Only the
//     desk's staff and coordinators may act (checked on every press);
//     claims are atomic. /mytickets lists and withdraws requests; /tickets,
//     /ticket REF, /away and /back are for staff. Bot.Escalate reminds and
//     escalates overdue tickets (deputy first, then the escalation target).
//     Without staff, "ask a person" shows the central contact
//     (Config.CentralContactID).
//   - /help, /privacy, /forget (deletes the session); unknown commands get
//     a short help.
//   - Photos, files, voice, video, stickers and contacts get "please type";
//     nothing is stored or forwarded. A shared location names the nearby
//     district and shows the topics; the point is not stored. An edited
//     message is answered as a new question; an edited command is ignored.
//   - Groups: only commands get a reply, a note that Lotse works in private
//     chats; nothing is stored. Messages from bots and channels are ignored.
//
// # Buttons
//
// Callback data is short ASCII naming ids, never labels: "l:<lang>",
// "lang", "menu", "t:<topic>:<page>", "e:<id>", "d:<id>", "m:<id>", "p";
// requests "kd:<district>", "kr:y|n", "kt:<topic>", "kn", "ks", "ksn", "kc",
// "km", "ka:<ref>", "kw:<ref>"; staff "sc:", "sr:", "sh:<ref>[:<person>]",
// "sx:<ref>[:<outcome>]". It
// is validated on receipt; forged, stale or unknown data gets a friendly
// "this button is outdated" and the topics, never an error.
package bot
