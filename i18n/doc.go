// Package i18n provides Lotse's language handling: the languages we ship,
// matching a user's language tag to one of them, the user-interface
// messages (go-i18n message files with CLDR plurals) and the text folding
// that makes search insensitive to case, diacritics and script variants.
package i18n
