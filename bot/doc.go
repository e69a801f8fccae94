// Package bot is Lotse's application: the conversation flows that turn
// incoming messages into answers from the knowledge base. It defines the
// small ports it needs (Sender, Store) and transport-neutral message
// types; it never sees a Telegram update or a Redis client.
//
// # One update
//
// Bot.Handle processes one Incoming with at most three store round trips:
// Store.FirstSeen drops repeated deliveries (Telegram redelivers until
// confirmed; webhooks retry), Store.Session loads what we remember
// (ErrNotFound: a new user), the flow computes the replies, a callback
// query is answered (always, on every path, even for duplicates and
// failures), the replies are sent, and the session is saved only if it
// changed (or once a day, to renew its TTL). If the store fails, the user
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
//   - "Ask a person" shows the central contact (Config.CentralContactID)
//     until routing to people exists.
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
// "lang", "menu", "t:<topic>:<page>", "e:<id>", "d:<id>", "m:<id>", "p". It
// is validated on receipt; forged, stale or unknown data gets a friendly
// "this button is outdated" and the topics, never an error.
package bot
