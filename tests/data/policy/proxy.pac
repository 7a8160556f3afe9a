function FindProxyForURL(url, host) {
  if (shExpMatch(host, "*.tiktok.com") || host == "tiktok.com")
    return "PROXY 0.0.0.0:9";
  if (dnsDomainIs(host, ".youtube.com"))
    return "PROXY proxy.agency.example:3128";
  if (isPlainHostName(host))
    return "DIRECT";
  return "PROXY proxy.agency.example:3128; DIRECT";
}
