package virtual

import (
	"fmt"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/workload"
)

func TestScratch(t *testing.T) {
	for _, b := range []string{"drop-reply"} {
		cfg := workload.Default()
		cfg.Duration = 10 * time.Second
		cfg.InjectBug = b
		r, err := Run(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%-16s acq %d %+v\n", b, r.Acquires, r.Violations)
		for _, s := range r.ViolationSamples {
			fmt.Println("   ", s)
		}
	}
}
