package knowledge

// Result is one search hit.
type Result struct {
	Entry *Entry
	// Score orders results; only comparable within one query.
	Score float64
	// Confidence in [0,1]: how much of the question's content the entry
	// covers. Below ConfidentAt the bot must not present the hit as an
	// answer.
	Confidence float64
}

// ConfidentAt is the confidence from which a result counts as an answer.
const ConfidentAt = 0.5

// Confident reports whether the result is good enough to show as an answer.
func (r Result) Confident() bool { return r.Confidence >= ConfidentAt }
