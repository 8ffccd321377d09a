// Package config loads and checks dandan's one YAML file.
//
// Load decodes every section strictly (unknown keys, wrong types and duplicate
// keys are errors), expands ${ENV} and ${file:/path} references in values,
// runs each section's Validate, and reports every problem at once as
// file:line:col: key.path: reason. Secrets are config.Secret and never print.
package config
