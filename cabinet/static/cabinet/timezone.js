// The browser's time zone, kept in a cookie so the server shows the cabinet's times in it
// (cabinet/time_zones.py). Set on the first page and again whenever the zone changes; a zone
// chosen in the profile overrides it.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  // IANA names only ("Europe/Moscow", "Etc/GMT+3"): nothing a cookie would need escaped.
  if (!zone || !/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) return;
  if (document.cookie.split("; ").indexOf("tz=" + zone) !== -1) return;
  document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
})();
