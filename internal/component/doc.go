// Package component defines what a part of dandan is (Part, Component,
// Deps) and runs the enabled ones: started in order, stopped in reverse
// within a deadline, each with a status that /readyz and the UI show.
package component
