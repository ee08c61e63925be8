// Command blackheart-inference serves Blackheart's gradient-boosted models
// and carries the offline tools operators use on artifacts.
//
//	blackheart-inference [serve]
//	blackheart-inference artifact verify --dir DIR [SHA ...]
//	blackheart-inference artifact verify --store URL [--dir CACHE] [SHA ...]
//	blackheart-inference artifact prefetch [--store URL] [--dir CACHE]
//	blackheart-inference predict --dir DIR --sha SHA [--raw] < rows.csv
//	blackheart-inference explain --dir DIR --sha SHA < rows.csv
//	blackheart-inference drift --signal ID [--live-days N] [--json]
//	blackheart-inference healthcheck
//
// It is the only place the adapters meet: it parses the configuration once,
// builds storage, the artifact store and the native loaders, and hands them
// to the inference service and the HTTP server. It may import anything.
package main
