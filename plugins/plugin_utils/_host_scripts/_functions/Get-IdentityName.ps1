# Uses: Get-PropertyValue
# The short name of an Exchange identity value (an ADObjectId such as a DAG's
# Servers item or a copy's Server), whatever form it arrives in: a live
# object or property bag with a Name, or only text. Over a remote session
# these usually arrive as text: a bare name, a canonical path
# ("contoso.com/.../EX01") or a distinguished name ("CN=EX01,CN=Servers,...").
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
