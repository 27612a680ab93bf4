package gateway

import "time"

// Flavor is a hardware size users choose from, as the site configures it.
type Flavor struct {
	Name         string        `json:"name"`
	GPUs         int           `json:"gpus"`
	GPUType      string        `json:"gpu_type,omitempty"`
	CPUs         int           `json:"cpus"`
	MemoryMB     int           `json:"memory_mb"`
	Partition    string        `json:"partition"`
	TimeLimit    time.Duration `json:"-"`
	PricePerHour float64       `json:"price_per_hour"`
	Currency     string        `json:"currency"`
}

// Estimate is the price of a flavor per hour and for its whole time limit.
type Estimate struct {
	Flavor           string  `json:"flavor"`
	PricePerHour     float64 `json:"price_per_hour"`
	TimeLimitSeconds int64   `json:"time_limit_seconds"`
	MaxPrice         float64 `json:"max_price"`
	Currency         string  `json:"currency"`
}

// Estimate returns the flavor's price per hour and the price of running for its whole time limit.
func (f Flavor) Estimate() Estimate {
	return Estimate{
		Flavor:           f.Name,
		PricePerHour:     f.PricePerHour,
		TimeLimitSeconds: int64(f.TimeLimit / time.Second),
		MaxPrice:         roundCents(f.PricePerHour * f.TimeLimit.Hours()),
		Currency:         f.Currency,
	}
}

func roundCents(x float64) float64 {
	return float64(int64(x*100+0.5)) / 100
}
