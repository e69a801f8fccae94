package knowledge

// Opening hours are computed in the city's time zone; embedding the zone
// database keeps that right on machines and containers without tzdata.
import _ "time/tzdata"
