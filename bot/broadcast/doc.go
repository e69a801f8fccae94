// Package broadcast delivers a coordinator's announcement to an audience
// (district, role, topic or event subscribers) at Telegram's limits,
// durably: a crash or restart neither loses recipients nor, outside one
// narrow window, sends anybody the announcement twice.
//
// # Flow
//
// Prepare checks the author (a coordinator) and the texts, stores a
// draft and returns a preview (recipients per language and the text each
// gets). Confirm snapshots the recipients into the Store's durable queue
// and moves the broadcast to Sending; every replica's Run loop then
// shares the delivery. Cancel stops it; Status returns the tally. The
// Reporter hears progress every tenth (once across replicas) and every
// ReportEvery, and the final tally once.
//
// # Delivery
//
// Each worker claims a recipient with a lease, waits for a slot of the
// shared Pacer (all replicas together at most Config.Rate messages per
// second, under Telegram's 30/s; the transport adds its own per-chat and
// per-process limits and sits out 429 retry_after), sends, and records
// the outcome with Store.Finish, which writes the recipient's marker and
// counts it in one atomic step. Blocked chats are counted and forgotten
// (ChatForgetter). After any other error (Telegram unavailable, the
// send cut off at its lease) the recipient is put back with a growing
// delay and the worker slows down; after MaxAttempts failures it counts
// as failed.
//
// # Guarantee
//
// Every recipient of the snapshot is sent the announcement at least
// once, or counted as blocked or failed: a recipient leaves the queue
// only through Finish, and a claim whose worker died returns to the
// queue when its lease expires (Resume/Run pick up broadcasts left
// Confirmed or Sending). A worker extends its claim while the send
// runs (LeaseExtender) and cuts the send off a margin before the last
// lease it holds ends, so two workers never send to one recipient at
// the same time, and an ordinary send - however long the transport
// waits for Telegram's limits - is not cut off mid-request, after
// Telegram may have accepted it.
//
// A recipient gets the announcement twice only if a process dies after
// Telegram accepted its message and before Finish wrote the marker -
// one Redis round trip, retried for a few seconds if Redis is briefly
// unavailable. At most one message per worker can be in that window
// (Workers per replica). An ordinary shutdown does not open it: sends
// in flight get Grace to complete and be recorded, and claimed
// recipients not yet sent are handed back at once. (The transport's own
// retry of a send whose answer was lost on the network is a second,
// independent source of rare duplicates; see telegram.Client.Send.)
package broadcast
