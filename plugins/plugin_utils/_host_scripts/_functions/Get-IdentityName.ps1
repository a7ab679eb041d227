# Uses: Get-PropertyValue
# The short name of an Exchange identity value (an ADObjectId such as a DAG's
# Servers item or a copy's Server), whatever form it arrives in: a live
# object or property bag with a Name, or only text. Over a remote session
# these may arrive as text: a bare name, a canonical path
# ("contoso.com/.../EX01") or a distinguished name ("CN=EX01,CN=Servers,...").
# CSS-Exchange reads a DAG's Servers items with ToString() (Diagnostics/
# ExchangeLogCollector/ExchangeServerInfo/Get-DAGInformation.ps1); its
# HealthChecker exports show an ADObjectId's text as the canonical path for a
# site and the bare name for a server (Tests/DataCollection/E19/Exchange/
# GetExchangeServer.xml Site, GetServerComponentState.xml Identity).
function Get-IdentityName {
    param($Value)
    if ($null -eq $Value) {
        return $null
    }
    if (-not ($Value -is [string])) {
        $name = Get-PropertyValue -InputObject $Value -Name 'Name'
        if ($null -ne $name -and [string]$name -ne '') {
            return [string]$name
        }
    }
    $text = [string]$Value
    if ($text -match '^CN=([^,]+),') {
        return $Matches[1]
    }
    if ($text.Contains('/')) {
        return $text.Substring($text.LastIndexOf('/') + 1)
    }
    if ($text.Contains('\')) {
        return $text.Substring($text.LastIndexOf('\') + 1)
    }
    $text
}
