package knowledge

// PLACEHOLDER owned by the search work: replaced by the real index.
type index struct{}

func newIndex(*KB) *index { return &index{} }

// Search returns up to limit entries matching query, best first.
func (kb *KB) Search(query, lang string, limit int) []Result { return nil }
