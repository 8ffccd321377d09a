// Package webstatus scrapes web-server status pages into metric samples:
// nginx's stub_status and Apache's mod_status in its machine-readable
// form (?auto), every field it prints and the scoreboard counted by state.
// A Scraper fetches a Target within its timeout; a failed scrape gives
// up{job}=0 and an error naming the URL, and ScrapeAll scrapes targets in
// parallel so that a hanging one delays no other. Docs lists every metric.
package webstatus
