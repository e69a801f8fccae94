// Package knowledge holds the curated content Lotse answers from: offices,
// counselling services, cafés, courses, events, districts and the people
// responsible for them. It loads and validates curator-edited YAML files,
// computes opening status and event dates in the city's time zone, and
// searches entries for questions typed in any supported language.
//
// The package is pure Go: it knows nothing about Telegram or Redis.
package knowledge
