// Package bot is Lotse's application: the conversation flows that turn
// incoming messages into answers from the knowledge base. It defines the
// small ports it needs (Sender, Store) and transport-neutral message
// types; it never sees a Telegram update or a Redis client.
package bot
