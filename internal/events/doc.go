// Package events is dandan's one time axis: a log of what happened
// (alerts firing and resolving, dandan starting and stopping, config
// reloads, remote_write outages; later relay diff spikes, X-RAY failures,
// fallback on and off, pre-scaling), kept in the SQL store. Every part
// records through the Recorder it gets in component.Deps; boards draw the
// events as markers on their time series, and GET /api/events lists them.
package events
