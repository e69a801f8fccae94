// Package remind keeps users informed about events: subscriptions (to one
// event, or to a district and optionally a topic), a reminder scheduler that
// runs on every replica yet delivers each reminder once, and the "what's on"
// listing.
//
// # Subscriptions
//
// A Subscription holds only what delivery needs: the pseudonymous user key,
// the chat id, the language and the target. It expires (see
// EventExpiry and DistrictTTL) and is renewed by Renew whenever the user is
// active, so the data of people who stopped using the bot disappears by
// itself. ForgetUser (for /forget) removes all of a user's subscriptions;
// a user who blocked the bot loses them automatically.
//
// # Scheduling
//
// Reminders are jobs in a durable Queue (Redis in production). Every replica
// runs a Scheduler; nothing is elected:
//
//   - Planning: every PlanEvery, Plan expands the occurrences starting in the
//     next Horizon (48 h) of every event with kb.Occurrences (Europe/Berlin,
//     daylight saving correct, cancelled dates skipped, moved dates at their
//     new time), finds the matching subscribers page by page and enqueues
//     one job per user, occurrence and offset. Job ids are derived from
//     exactly these, so enqueuing is idempotent: several replicas planning
//     at once, or one planning twice, add each job once, and a user
//     subscribed both to an event and to its district gets one reminder.
//   - Claiming: a replica atomically moves due jobs to "in flight" with a
//     lease deadline. A job whose lease expired (its replica died) is put
//     back in the queue by whichever replica looks next, unless it was
//     already marked (see below).
//   - Delivery: the job is checked against the current knowledge base and
//     subscriptions (a date cancelled or moved after planning, an
//     unsubscribed user, an occurrence already begun: no reminder), then a
//     per-job "sent" marker is written with SET NX, and only if that
//     succeeded is the reminder delivered and the job acknowledged.
//
// # Delivery guarantee: at most once
//
// The marker is written before sending and never removed after a send was
// attempted with an ambiguous outcome. So no reminder is ever sent twice,
// whatever replicas race or die. The price: if a replica dies after writing
// the marker but before the message left (a window of one network round
// trip), that reminder is lost; the lease expiry then finds the marker and
// abandons the job instead of re-sending (counted in Stats.Abandoned). A
// send that failed with an error wrapping bot.ErrUnavailable (the transport
// says nothing went out) removes the marker and retries with backoff, so
// transient Telegram or network trouble does not lose reminders. A chat
// that blocked the bot (bot.ErrBlocked) loses its subscriptions.
//
// # Import direction
//
// remind uses the bot's vocabulary (bot.UserKey, bot.ErrBlocked, bot.Sender)
// and is wired in cmd/lotse; the bot core must therefore not import remind
// but declare the small interfaces it needs (e.g. for /subscriptions).
package remind
