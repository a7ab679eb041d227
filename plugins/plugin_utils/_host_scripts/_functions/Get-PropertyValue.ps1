# Reads one property without tripping Set-StrictMode (version 2.0 and later
# refuse references to non-existent properties of an object: Microsoft Learn,
# Set-StrictMode, -Version). Values may be live
# objects, deserialized property bags, dictionaries (our own JSON arguments)
# or $null, and a property may be missing on older builds (for example
# MitigationsEnabled exists only from the September 2021 CUs on).
# Returns $Default when the object is $null or has no such property. Like any
# PowerShell function's output, a collection value comes back unrolled (an
# empty one as $null, one item as that item): wrap list reads in @() or
# ConvertTo-StringList.
function Get-PropertyValue {
    param($InputObject, [string]$Name, $Default = $null)
    if ($null -eq $InputObject) {
        return $Default
    }
    if ($InputObject -is [System.Collections.IDictionary]) {
        if ($InputObject.Contains($Name)) {
            return $InputObject[$Name]
        }
        return $Default
    }
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property) {
        return $Default
    }
    $property.Value
}
