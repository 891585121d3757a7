"""The community's channels into the hub, both opened from the QR poster at a post.

* *Sambang*: an officer's visit to the post, recorded from their phone (`visits`), flagged when
  the phone was not near the post or gave no location (`geo`).
* *Lapor cepat*: a resident's quick report, which becomes a low-severity `report` alert on that
  post for the operators; an operator escalates it to a paged `incident` or closes it as a false
  report (`service`).

Links are signed and bound to one post or one officer (`links`); photos are checked and their
location metadata removed unless the resident shares it (`images`); strangers are rate limited
(`limits`); visits and reports are stored in SQL (`store`).
"""
