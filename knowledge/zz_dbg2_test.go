package knowledge

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestZZDbg2(t *testing.T) {
	q := os.Getenv("Q")
	if q == "" { t.Skip() }
	kb, err := Sample()
	if err != nil { t.Fatal(err) }
	ix := kb.index
	for _, qq := range strings.Split(q, "|") {
		fmt.Printf("== %s\n", qq)
		us, _ := ix.queryUnits(qq); for _, u := range us {
			cs := ix.candidates(u, nil)
			fmt.Printf("  unit %q:", u.key)
			for _, c := range cs {
				fmt.Printf(" %s(%.2f,idf %.2f,df %d)", ix.terms[c.term], c.quality, ix.idf[c.term], ix.start[c.term+1]-ix.start[c.term])
			}
			fmt.Println()
		}
	}
}
