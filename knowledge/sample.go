package knowledge

import (
	"embed"
	"io/fs"
)

// sampleFS holds the invented knowledge base of Lotsenstadt, so that the
// bot can be tried out without any local data.
//
//go:embed sample/*.yaml
var sampleFS embed.FS

// Sample loads the embedded sample knowledge base of the fictional city
// Lotsenstadt. Returns a *LoadError if the embedded files do not
// validate (a test guards against that).
func Sample() (*KB, error) {
	sub, err := fs.Sub(sampleFS, "sample")
	if err != nil {
		return nil, err
	}
	return Load(sub)
}
