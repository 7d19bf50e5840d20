package fleet

import "github.com/idpool/idpool/sim/report"

// Report is what a fleet simulation measured; sim/report writes it as text
// (report.WriteFleetText), JSON (WriteFleetJSON) and HTML (WriteFleetHTML).
type Report = report.Fleet
