package ui

// vendor.sh fetches htmx and uPlot from the npm registry (npm pack, no Node
// code runs), copies them to static/vendor under versioned names and fails if
// they do not match static/vendor/vendor.sum. To bump a version, edit
// vendor.sh, run `bash vendor.sh -update`, and update the names in assets.go.
//go:generate bash vendor.sh
