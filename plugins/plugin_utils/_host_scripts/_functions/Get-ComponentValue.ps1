# Uses: Get-PropertyValue
# The state (Active/Inactive/Draining) of one server component, as text
# whatever form the State value arrives in.
function Get-ComponentValue {
    param([string]$Identity, [string]$Component)
    $entry = Get-ServerComponentState -Identity $Identity -Component $Component
    [string](Get-PropertyValue -InputObject $entry -Name 'State')
}
