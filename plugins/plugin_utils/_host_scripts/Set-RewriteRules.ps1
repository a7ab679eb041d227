# Applies a list of URL Rewrite changes the controller computed (as data:
# add_rule, remove_rule, delete_entry, add_precondition, remove_precondition)
# to the web.config files of Default Web Site and its applications, and
# removes entries that live in applicationHost.config under
# <location path="Default Web Site/..."> where they are (a change marked
# config=apphost; a stale rule there is what CSS-Exchange issue 2003 found),
# or in its server-level section outside any <location> (apphost-root).
# Rules are only ever added to web.config files.
# First it copies every one of those files (applicationHost.config only when
# a change is made there), with a timestamp, into a backup folder on this
# server. If any change fails, it copies back each file that differs, so a
# half-applied list never stays behind, and says so in the error.
# Values become XML attributes through the DOM; nothing is parsed as code.
# Uses: Get-PropertyValue
param($HostArgs)

$siteName = 'Default Web Site'
$backupRoot = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\onprem.exchange\rewrite-backups'
$appHostPath = Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\config\applicationHost.config'
$keepBackups = 20

function Get-ConfigPlace {
    $site = Get-Website -Name $siteName
    if ($null -eq $site) {
        throw ('IIS has no site named {0} on this server.' -f $siteName)
    }
    $places = @([ordered]@{ path = ''; file = Join-Path -Path ([Environment]::ExpandEnvironmentVariables([string]$site.PhysicalPath)) -ChildPath 'web.config' })
    foreach ($application in Get-WebApplication -Site $siteName) {
        $physical = [Environment]::ExpandEnvironmentVariables([string]$application.PhysicalPath)
        $places += [ordered]@{ path = [string]$application.Path; file = Join-Path -Path $physical -ChildPath 'web.config' }
    }
    $places
}

function New-RewriteBackup {
    param($Places, [string]$Reason)
    $stamp = (Get-Date).ToUniversalTime()
    $existing = @(Get-ChildItem -LiteralPath $backupRoot -Directory -ErrorAction SilentlyContinue).Count
    $id = '{0}-{1:000}' -f $stamp.ToString('yyyyMMddTHHmmssZ'), ($existing + 1)
    $folder = Join-Path -Path $backupRoot -ChildPath $id
    New-Item -Path $folder -ItemType Directory -Force | Out-Null
    $files = @()
    $index = 0
    foreach ($place in $Places) {
        $index++
        $record = [ordered]@{ path = $place.path; file = $place.file; existed = $false; copy = $null; sha256 = $null }
        if (Test-Path -LiteralPath $place.file) {
            $record.existed = $true
            $record.copy = '{0:000}.config' -f $index
            Copy-Item -LiteralPath $place.file -Destination (Join-Path -Path $folder -ChildPath $record.copy) -Force
            $record.sha256 = (Get-FileHash -LiteralPath $place.file -Algorithm SHA256).Hash.ToLowerInvariant()
        }
        $files += $record
    }
    $manifest = [ordered]@{ id = $id; time = $stamp.ToString('o'); reason = $Reason; files = $files }
    $json = ConvertTo-Json -InputObject $manifest -Depth 5
    [System.IO.File]::WriteAllText((Join-Path -Path $folder -ChildPath 'backup.json'), $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
    # Keep the newest backups only; each is a few small files.
    $old = @(Get-ChildItem -LiteralPath $backupRoot -Directory | Sort-Object -Property Name)
    if ($old.Count -gt $keepBackups) {
        $old | Select-Object -First ($old.Count - $keepBackups) | Remove-Item -Recurse -Force
    }
    [ordered]@{ id = $id; time = $manifest.time; path = $folder; files = $files }
}

function Complete-RewriteBackup {
    # Records each file's SHA256 after the changes, so a later restore can
    # tell whether anything else has changed the file since (a restore of
    # applicationHost.config would undo that too).
    param($Backup, [string]$Reason)
    foreach ($record in $Backup.files) {
        $record.after_sha256 = $null
        if (Test-Path -LiteralPath $record.file) {
            $record.after_sha256 = (Get-FileHash -LiteralPath $record.file -Algorithm SHA256).Hash.ToLowerInvariant()
        }
    }
    $manifest = [ordered]@{ id = $Backup.id; time = $Backup.time; reason = $Reason; files = $Backup.files }
    $json = ConvertTo-Json -InputObject $manifest -Depth 5
    [System.IO.File]::WriteAllText((Join-Path -Path $Backup.path -ChildPath 'backup.json'), $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
}

function Restore-RewriteBackup {
    param($Backup)
    foreach ($record in $Backup.files) {
        if ($record.existed) {
            # Only a file that differs is written back: rewriting an
            # unchanged applicationHost.config would still make IIS reload it.
            $current = $null
            if (Test-Path -LiteralPath $record.file) {
                $current = (Get-FileHash -LiteralPath $record.file -Algorithm SHA256).Hash.ToLowerInvariant()
            }
            if ($current -ne $record.sha256) {
                Copy-Item -LiteralPath (Join-Path -Path $Backup.path -ChildPath $record.copy) -Destination $record.file -Force
            }
        }
        elseif (Test-Path -LiteralPath $record.file) {
            Remove-Item -LiteralPath $record.file -Force
        }
    }
}

function Get-CollectionNode {
    param($Document, $Root, [string]$Collection, [bool]$Create)
    $chain = @('system.webServer', 'rewrite')
    if ($Collection -eq 'inbound') {
        $chain += 'rules'
    }
    elseif ($Collection -eq 'outbound') {
        $chain += 'outboundRules'
    }
    elseif ($Collection -eq 'preconditions') {
        $chain += 'outboundRules', 'preConditions'
    }
    else {
        throw ('Unknown rule collection {0}.' -f $Collection)
    }
    $node = $Root
    foreach ($name in $chain) {
        $next = $node.SelectSingleNode($name)
        if ($null -eq $next) {
            if (-not $Create) {
                return $null
            }
            $next = $node.AppendChild($Document.CreateElement($name))
        }
        $node = $next
    }
    $node
}

function Add-ConditionElement {
    param($Document, $Parent, $Conditions)
    foreach ($condition in @($Conditions)) {
        $add = $Document.CreateElement('add')
        $add.SetAttribute('input', [string]$condition.input)
        $add.SetAttribute('pattern', [string]$condition.pattern)
        if (-not [bool](Get-PropertyValue -InputObject $condition -Name 'ignore_case' -Default $true)) {
            $add.SetAttribute('ignoreCase', 'false')
        }
        if ([bool](Get-PropertyValue -InputObject $condition -Name 'negate' -Default $false)) {
            $add.SetAttribute('negate', 'true')
        }
        $Parent.AppendChild($add) | Out-Null
    }
}

function New-RuleElement {
    param($Document, $Rule, [string]$Collection)
    $element = $Document.CreateElement('rule')
    $element.SetAttribute('name', [string](Get-PropertyValue -InputObject $Rule -Name 'name' -Default ''))
    if (-not [bool](Get-PropertyValue -InputObject $Rule -Name 'enabled' -Default $true)) {
        $element.SetAttribute('enabled', 'false')
    }
    $precondition = [string](Get-PropertyValue -InputObject $Rule -Name 'precondition' -Default '')
    if ($precondition) {
        $element.SetAttribute('preCondition', $precondition)
    }
    $element.SetAttribute('patternSyntax', [string](Get-PropertyValue -InputObject $Rule -Name 'pattern_syntax' -Default 'ECMAScript'))
    if ([bool](Get-PropertyValue -InputObject $Rule -Name 'stop_processing' -Default $false)) {
        $element.SetAttribute('stopProcessing', 'true')
    }
    $matchData = Get-PropertyValue -InputObject $Rule -Name 'match'
    $match = $Document.CreateElement('match')
    if ($Collection -eq 'outbound') {
        $match.SetAttribute('serverVariable', [string](Get-PropertyValue -InputObject $matchData -Name 'server_variable' -Default ''))
        $match.SetAttribute('pattern', [string](Get-PropertyValue -InputObject $matchData -Name 'pattern' -Default ''))
    }
    else {
        $match.SetAttribute('url', [string](Get-PropertyValue -InputObject $matchData -Name 'url' -Default ''))
    }
    $element.AppendChild($match) | Out-Null
    $ruleConditions = @(Get-PropertyValue -InputObject $Rule -Name 'conditions' -Default @())
    if ($ruleConditions.Count -gt 0) {
        $conditions = $Document.CreateElement('conditions')
        $grouping = [string](Get-PropertyValue -InputObject $Rule -Name 'logical_grouping' -Default 'MatchAll')
        if ($grouping -and $grouping -ne 'MatchAll') {
            $conditions.SetAttribute('logicalGrouping', $grouping)
        }
        Add-ConditionElement -Document $Document -Parent $conditions -Conditions $ruleConditions
        $element.AppendChild($conditions) | Out-Null
    }
    $actionData = Get-PropertyValue -InputObject $Rule -Name 'action'
    $action = $Document.CreateElement('action')
    $action.SetAttribute('type', [string](Get-PropertyValue -InputObject $actionData -Name 'type' -Default 'None'))
    $actionValue = [string](Get-PropertyValue -InputObject $actionData -Name 'value' -Default '')
    if ($actionValue) {
        $action.SetAttribute('value', $actionValue)
    }
    $element.AppendChild($action) | Out-Null
    $element
}

function New-PreconditionElement {
    param($Document, $Precondition)
    $element = $Document.CreateElement('preCondition')
    $element.SetAttribute('name', [string](Get-PropertyValue -InputObject $Precondition -Name 'name' -Default ''))
    $grouping = [string](Get-PropertyValue -InputObject $Precondition -Name 'logical_grouping' -Default 'MatchAll')
    if ($grouping -and $grouping -ne 'MatchAll') {
        $element.SetAttribute('logicalGrouping', $grouping)
    }
    $element.SetAttribute('patternSyntax', [string](Get-PropertyValue -InputObject $Precondition -Name 'pattern_syntax' -Default 'ECMAScript'))
    Add-ConditionElement -Document $Document -Parent $element -Conditions @(Get-PropertyValue -InputObject $Precondition -Name 'conditions' -Default @())
    $element
}

function Find-Entry {
    param($Collection, [string]$LocalName, [string]$Name)
    if ($null -eq $Collection) {
        return $null
    }
    foreach ($child in $Collection.ChildNodes) {
        if ($child.NodeType -eq [System.Xml.XmlNodeType]::Element -and $child.LocalName -eq $LocalName -and $child.GetAttribute('name') -eq $Name) {
            return $child
        }
    }
    $null
}

function Read-ConfigDocument {
    param([string]$Path)
    $document = New-Object -TypeName System.Xml.XmlDocument
    $document.PreserveWhitespace = $true
    if (Test-Path -LiteralPath $Path) {
        $document.Load($Path)
    }
    else {
        $document.LoadXml('<?xml version="1.0" encoding="UTF-8"?><configuration></configuration>')
    }
    $document
}

function Get-AppHostLocation {
    # The <location path="Default Web Site/..."> elements for one path; IIS
    # compares location paths without regard to case or a trailing slash.
    param($Document, [string]$Path)
    $wanted = ($siteName + $Path).TrimEnd('/')
    @($Document.DocumentElement.SelectNodes('location') | Where-Object { ([string]$_.GetAttribute('path')).TrimEnd('/') -eq $wanted })
}

function Invoke-RewriteChange {
    param($Change, $Places)
    $path = [string](Get-PropertyValue -InputObject $Change -Name 'path' -Default '')
    $op = [string](Get-PropertyValue -InputObject $Change -Name 'op' -Default '')
    $config = [string](Get-PropertyValue -InputObject $Change -Name 'config' -Default '')
    if ($config -eq 'apphost' -or $config -eq 'apphost-root') {
        if ($op -ne 'remove_rule' -and $op -ne 'remove_precondition' -and $op -ne 'delete_entry') {
            throw ('Rules are added to web.config files only, not to applicationHost.config ({0}).' -f $op)
        }
        $file = $appHostPath
        $document = Read-ConfigDocument -Path $file
        if ($config -eq 'apphost-root') {
            # The server-level section, outside any <location>.
            $roots = @($document.DocumentElement)
        }
        else {
            $roots = @(Get-AppHostLocation -Document $document -Path $path)
            if ($roots.Count -eq 0) {
                throw ('applicationHost.config has no <location path="{0}{1}">.' -f $siteName, $path)
            }
        }
    }
    else {
        $place = $Places | Where-Object { $_.path -eq $path } | Select-Object -First 1
        if ($null -eq $place) {
            throw ('{0} has no application {1}.' -f $siteName, $path)
        }
        $file = $place.file
        $document = Read-ConfigDocument -Path $file
        $roots = @($document.DocumentElement)
    }
    if ($op -eq 'add_rule' -or $op -eq 'add_precondition') {
        if ($op -eq 'add_rule') {
            $collectionName = [string](Get-PropertyValue -InputObject $Change -Name 'collection' -Default '')
            $localName = 'rule'
            $entry = Get-PropertyValue -InputObject $Change -Name 'rule'
        }
        else {
            $collectionName = 'preconditions'
            $localName = 'preCondition'
            $entry = Get-PropertyValue -InputObject $Change -Name 'precondition'
        }
        $entryName = [string](Get-PropertyValue -InputObject $entry -Name 'name' -Default '')
        $collection = Get-CollectionNode -Document $document -Root $roots[0] -Collection $collectionName -Create $true
        if ($null -ne (Find-Entry -Collection $collection -LocalName $localName -Name $entryName)) {
            throw ('Cannot add duplicate collection entry of type ''{0}'' with unique key attribute ''name'' set to ''{1}''' -f $localName, $entryName)
        }
        if ($op -eq 'add_rule') {
            $element = New-RuleElement -Document $document -Rule $entry -Collection $collectionName
        }
        else {
            $element = New-PreconditionElement -Document $document -Precondition $entry
        }
        # First in the collection, after any leading <remove>/<clear/>, so a
        # rule that stops processing cannot shadow it.
        $before = $null
        foreach ($child in $collection.ChildNodes) {
            if ($child.NodeType -eq [System.Xml.XmlNodeType]::Element -and @('remove', 'clear', 'preConditions', 'customTags') -notcontains $child.LocalName) {
                $before = $child
                break
            }
        }
        if ($null -ne $before) {
            $collection.InsertBefore($element, $before) | Out-Null
        }
        else {
            $collection.AppendChild($element) | Out-Null
        }
    }
    elseif ($op -eq 'remove_rule' -or $op -eq 'remove_precondition' -or $op -eq 'delete_entry') {
        if ($op -eq 'remove_rule') {
            $collectionName = [string](Get-PropertyValue -InputObject $Change -Name 'collection' -Default '')
            $localName = 'rule'
        }
        elseif ($op -eq 'remove_precondition') {
            $collectionName = 'preconditions'
            $localName = 'preCondition'
        }
        else {
            $collectionName = [string](Get-PropertyValue -InputObject $Change -Name 'collection' -Default '')
            $localName = 'remove'
        }
        $name = [string](Get-PropertyValue -InputObject $Change -Name 'name' -Default '')
        $node = $null
        foreach ($root in $roots) {
            $collection = Get-CollectionNode -Document $document -Root $root -Collection $collectionName -Create $false
            $node = Find-Entry -Collection $collection -LocalName $localName -Name $name
            if ($null -ne $node) {
                break
            }
        }
        if ($null -eq $node) {
            throw ('No {0} named ''{1}'' in {2}.' -f $localName, $name, $file)
        }
        $node.ParentNode.RemoveChild($node) | Out-Null
    }
    else {
        throw ('Unknown change ''{0}''.' -f $op)
    }
    $document.Save($file)
    $file
}

Import-Module -Name WebAdministration -ErrorAction Stop
$changes = @(Get-PropertyValue -InputObject $HostArgs -Name 'changes' -Default @())
if ($changes.Count -eq 0) {
    throw 'No changes were given.'
}
if (-not (Test-Path -LiteralPath (Join-Path -Path $env:windir -ChildPath 'System32\inetsrv\rewrite.dll'))) {
    throw 'The IIS URL Rewrite module is not installed; IIS would reject a <rewrite> section and fail every request to the site.'
}
$places = @(Get-ConfigPlace)
$backupPlaces = $places
if (@($changes | Where-Object { @('apphost', 'apphost-root') -contains [string](Get-PropertyValue -InputObject $_ -Name 'config' -Default '') }).Count -gt 0) {
    $backupPlaces = $places + @([ordered]@{ path = 'applicationHost.config'; file = $appHostPath })
}
$backup = New-RewriteBackup -Places $backupPlaces -Reason ([string](Get-PropertyValue -InputObject $HostArgs -Name 'reason' -Default ''))
$steps = @([ordered]@{ step = 'backup'; id = $backup.id; path = $backup.path })
$number = 0
foreach ($change in $changes) {
    $number++
    $op = [string](Get-PropertyValue -InputObject $change -Name 'op' -Default '')
    $changePath = [string](Get-PropertyValue -InputObject $change -Name 'path' -Default '')
    try {
        $written = Invoke-RewriteChange -Change $change -Places $places
    }
    catch {
        $failure = $_.Exception.Message
        try {
            Restore-RewriteBackup -Backup $backup
        }
        catch {
            throw ('Change {0} of {1} ({2} at {3}{4}) failed: {5} Restoring backup {6} failed too: {7} Restore it before anything else.' -f $number, $changes.Count, $op, $siteName, $changePath, $failure, $backup.id, $_.Exception.Message)
        }
        throw ('Change {0} of {1} ({2} at {3}{4}) failed: {5} The configuration was restored from backup {6}.' -f $number, $changes.Count, $op, $siteName, $changePath, $failure, $backup.id)
    }
    $steps += [ordered]@{ step = $op; path = $changePath; file = $written; ok = $true }
}
Complete-RewriteBackup -Backup $backup -Reason ([string](Get-PropertyValue -InputObject $HostArgs -Name 'reason' -Default ''))
$data = [ordered]@{
    backup = [ordered]@{ id = $backup.id; time = $backup.time; path = $backup.path }
    applied = $changes.Count
}
@{ changed = $true; data = $data; steps = $steps }
