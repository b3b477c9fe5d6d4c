"""Reports over the desk's tickets: SQL aggregates per period or per agent, category,
channel, priority or tag (`figures`), the chosen range in the desk's time zone (`periods`),
one report as rows for the screen and its CSV (`report`), and streamed CSV (`export`).

Read-only: nothing here changes a ticket."""
